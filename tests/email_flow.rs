//! The layer with `EmailNotifier` and a real SMTP server on loopback: the code travels by
//! e-mail, and a mail server that is down or hangs makes login fail closed with 503.
#![cfg(feature = "email")]

mod common;

use std::time::{Duration, Instant};

use common::app::*;
use common::smtp::SmtpServer;
use http::StatusCode;
use mail_parser::MessageParser;
use tokio::net::TcpListener;
use tower_otp::notify::EmailNotifier;

fn email(url: &str, timeout: Duration) -> EmailNotifier {
    EmailNotifier::from_url(url, "Example <no-reply@example.com>")
        .unwrap()
        .with_timeout(timeout)
}

/// The 6-digit code in a message's text part.
fn code_in(raw: &[u8]) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    let text = message.body_text(0).unwrap();
    text.split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .expect("a 6-digit code in the text part")
        .to_owned()
}

#[tokio::test]
async fn the_code_arrives_by_email_and_verifies() {
    let smtp = SmtpServer::start().await;
    let app =
        TestApp::with(|layer| layer.with_notifier(email(&smtp.url(), Duration::from_secs(5))));
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["alice@example.com"]);
    let code = code_in(&received[0].data);
    let verify = app.verify(login.str("challenge"), &code).await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    assert!(
        app.console.codes().is_empty(),
        "nothing went to the console"
    );
}

#[tokio::test]
async fn a_mail_server_that_is_down_fails_closed() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::with(|layer| {
        layer.with_notifier(email(
            &format!("smtp://127.0.0.1:{port}"),
            Duration::from_secs(5),
        ))
    });
    let started = Instant::now();
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        login.text,
        r#"{"detail":"The verification code could not be delivered. Try again later."}"#
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_hanging_mail_server_fails_closed_within_the_timeout() {
    // Accepts connections and never says a word.
    let addr = common::net::silent_server().await;
    let timeout = Duration::from_millis(400);
    let app = TestApp::with(|layer| layer.with_notifier(email(&format!("smtp://{addr}"), timeout)));
    let started = Instant::now();
    let login = app.login("alice", PASSWORD).await;
    let took = started.elapsed();
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took >= timeout, "{took:?}");
    assert!(took < timeout + Duration::from_secs(2), "{took:?}");
    // The server keeps serving, and a login with a working mail server goes through.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn with_email_builds_the_notifier_from_the_settings_email_config() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::with(|layer| {
        let mut settings = tower_otp::OtpSettings::default();
        settings.email_config.subject = "Code for {{ first_name }}".to_owned();
        layer
            .with_settings(settings)
            .with_email(&url, "Example <no-reply@example.com>")
    });
    let login = app.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let message = MessageParser::default().parse(&received[0].data).unwrap();
    assert_eq!(message.subject(), Some("Code for alice"));

    // What cannot make a notifier is a configuration problem, named.
    let errors =
        tower_otp::OtpAuthLayer::builder(demo_users(), tower_otp::notify::ConsoleNotifier::new())
            .with_email("ftp://example.com", "no-reply@example.com")
            .build()
            .unwrap_err();
    assert_eq!(errors.keys(), ["smtp_url"]);
    let errors =
        tower_otp::OtpAuthLayer::builder(demo_users(), tower_otp::notify::ConsoleNotifier::new())
            .with_email("smtp://127.0.0.1:2525", "not an address")
            .build()
            .unwrap_err();
    assert_eq!(errors.keys(), ["smtp_from"]);
}
