//! `EmailNotifier` against a real SMTP server on loopback; each received message is parsed
//! independently of lettre (with `mail-parser`).
#![cfg(feature = "email")]

#[path = "common/net.rs"]
mod net;
#[path = "common/smtp.rs"]
mod smtp;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;
use smtp::{Received, SmtpServer, REFUSED_RECIPIENT};
use tokio::net::TcpListener;
use tower_otp::notify::{Delivery, EmailNotifier, EmailSetupError, Notifier, NotifyError};
use tower_otp::{EmailConfig, User};

const FROM: &str = "Example <no-reply@example.com>";
const CODE: &str = "482913";

fn user(first_name: &str, email: &str) -> User {
    User {
        id: "42".to_owned(),
        username: "ada".to_owned(),
        email: email.to_owned(),
        first_name: first_name.to_owned(),
        last_name: "Lovelace".to_owned(),
        is_active: true,
        password_hash: String::new(),
    }
}

fn ada() -> User {
    user("Ada", "ada@example.com")
}

fn no_extra() -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::new()
}

async fn send_with(
    notifier: &EmailNotifier,
    user: &User,
    ttl: Duration,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), NotifyError> {
    notifier
        .deliver(&Delivery {
            user,
            code: CODE,
            ttl,
            issued_at: SystemTime::now(),
            extra_context: extra,
        })
        .await
}

async fn send(notifier: &EmailNotifier, user: &User) -> Result<(), NotifyError> {
    send_with(notifier, user, Duration::from_secs(300), &no_extra()).await
}

fn notifier(server: &SmtpServer) -> EmailNotifier {
    EmailNotifier::from_url(&server.url(), FROM).unwrap()
}

/// For what fails before any connection.
fn unconnected() -> EmailNotifier {
    EmailNotifier::from_url("smtp://127.0.0.1:1", FROM).unwrap()
}

/// What a mail client would show of a received message.
#[derive(Debug)]
struct Mail {
    envelope: Received,
    from: String,
    to: String,
    subject: String,
    content_type: String,
    text: String,
    html: String,
}

fn content_type<'x>(part: &impl MimeHeaders<'x>) -> String {
    part.content_type()
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
        .unwrap_or_default()
}

/// The one message the server received.
fn only_mail(server: &SmtpServer) -> Mail {
    let mut received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let envelope = received.remove(0);
    let message = MessageParser::default()
        .parse(&envelope.data)
        .expect("a parseable message");
    let address = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned()
    };
    let leaf = |wanted: &str| {
        let parts: Vec<_> = message.parts[1..]
            .iter()
            .filter(|part| content_type(*part) == wanted)
            .collect();
        assert_eq!(parts.len(), 1, "one {wanted} part");
        parts[0].text_contents().unwrap().to_owned()
    };
    Mail {
        from: address(message.from()),
        to: address(message.to()),
        subject: message.subject().unwrap_or_default().to_owned(),
        content_type: content_type(&message.parts[0]),
        text: leaf("text/plain"),
        html: leaf("text/html"),
        envelope,
    }
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tower-otp-email-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn sends_both_parts_with_the_code_the_name_and_the_lifetime() {
    let server = SmtpServer::start().await;
    send(&notifier(&server), &ada()).await.unwrap();

    let mail = only_mail(&server);
    assert_eq!(mail.envelope.mail_from, "no-reply@example.com");
    assert_eq!(mail.envelope.rcpt_to, ["ada@example.com"]);
    assert_eq!(mail.from, "no-reply@example.com");
    assert_eq!(mail.to, "ada@example.com");
    assert_eq!(mail.subject, "Verification Token");
    assert_eq!(mail.content_type, "multipart/alternative");
    for part in [&mail.text, &mail.html] {
        assert!(part.contains(CODE), "{part}");
        assert!(part.contains("Hello Ada,"), "{part}");
        assert!(part.contains("expires in 5 minutes"), "{part}");
        assert!(part.contains("change it now"), "{part}");
        assert!(part.contains("Thank you"), "{part}");
    }
    // Inline CSS only: nothing for the mail client to fetch.
    assert!(!mail.html.contains("<link"), "{}", mail.html);
    assert!(mail.html.contains("style=\""), "{}", mail.html);
}

#[tokio::test]
async fn greets_by_username_and_rounds_the_lifetime_up() {
    let server = SmtpServer::start().await;
    let user = user("", "ada@example.com");
    send_with(
        &notifier(&server),
        &user,
        Duration::from_secs(61),
        &no_extra(),
    )
    .await
    .unwrap();

    let mail = only_mail(&server);
    for part in [&mail.text, &mail.html] {
        assert!(part.contains("Hello ada,"), "{part}");
        assert!(part.contains("expires in 2 minutes"), "{part}");
    }
}

#[tokio::test]
async fn templates_from_the_email_config_paths() {
    let server = SmtpServer::start().await;
    let config = EmailConfig {
        subject: "Code for {{ username }}, valid {{ otp_ttl }} s".to_owned(),
        template_path: Some(temp_file(
            "config.html",
            "<p>{{ full_name }}: <b>{{ token }}</b> ({{ otp_ttl_minutes }} min)</p>",
        )),
        text_template_path: Some(temp_file(
            "config.txt",
            "{{ email }} gets {{ token }} for {{ otp_ttl_minutes }} min",
        )),
    };
    let notifier = notifier(&server).with_email_config(&config).unwrap();
    send(&notifier, &ada()).await.unwrap();

    let mail = only_mail(&server);
    assert_eq!(mail.subject, "Code for ada, valid 300 s");
    assert_eq!(mail.text, format!("ada@example.com gets {CODE} for 5 min"));
    assert_eq!(
        mail.html,
        format!("<p>Ada Lovelace: <b>{CODE}</b> (5 min)</p>")
    );
}

#[test]
fn a_missing_template_file_fails_at_startup() {
    let config = EmailConfig {
        text_template_path: Some(PathBuf::from("/nonexistent/tower-otp/email.txt")),
        ..EmailConfig::default()
    };
    let err = unconnected().with_email_config(&config).unwrap_err();
    assert!(
        matches!(&err, EmailSetupError::Read { path, .. } if path.ends_with("email.txt")),
        "{err:?}"
    );
}

#[tokio::test]
async fn templates_by_string_and_extending_the_shipped_ones() {
    let server = SmtpServer::start().await;
    let notifier = notifier(&server)
        .with_subject_template("{{ token }} is your code")
        .unwrap()
        .with_text_template("Code: {{ token }}")
        .unwrap()
        .with_html_template(
            r#"{% extends "tower_otp/email.html" %}{% block footer %}The Example team{% endblock %}"#,
        )
        .unwrap();
    send(&notifier, &ada()).await.unwrap();

    let mail = only_mail(&server);
    assert_eq!(mail.subject, format!("{CODE} is your code"));
    assert_eq!(mail.text, format!("Code: {CODE}"));
    assert!(mail.html.contains("The Example team"), "{}", mail.html);
    assert!(!mail.html.contains("Thank you"), "{}", mail.html);
    assert!(mail.html.contains("Hello Ada,"), "{}", mail.html);
    assert!(mail.html.contains(CODE), "{}", mail.html);
}

#[test]
fn broken_templates_fail_at_startup() {
    let cases = [
        ("html", unconnected().with_html_template("{{ token ")),
        (
            "text",
            unconnected().with_text_template(r#"{% extends "missing.txt" %}"#),
        ),
        (
            "subject",
            unconnected().with_subject_template("Code\n{{ token }}"),
        ),
    ];
    for (which, result) in cases {
        let err = result.unwrap_err();
        assert!(
            matches!(err, EmailSetupError::Template { template, .. } if template == which),
            "{which}: {err:?}"
        );
    }
}

#[tokio::test]
async fn extra_context_appears_and_overrides_the_defaults_but_not_the_code() {
    let server = SmtpServer::start().await;
    let notifier = notifier(&server)
        .with_subject_template("{{ company }} sign-in")
        .unwrap();
    let extra = json!({
        "company": "Example Corp",
        "introduction": "Welcome back, Ada!",
        "description": "Here is your code:",
        "footer": "The Example team",
        "token": "000000",
        "otp_ttl_minutes": 99,
    });
    let extra = extra.as_object().unwrap();
    send_with(&notifier, &ada(), Duration::from_secs(300), extra)
        .await
        .unwrap();

    let mail = only_mail(&server);
    assert_eq!(mail.subject, "Example Corp sign-in");
    for part in [&mail.text, &mail.html] {
        for shown in [
            "Welcome back, Ada!",
            "Here is your code:",
            "The Example team",
            CODE,
            "5 minutes",
        ] {
            assert!(part.contains(shown), "{shown} in {part}");
        }
        for replaced in ["Hello Ada,", "Thank you", "000000", "99 minutes"] {
            assert!(!part.contains(replaced), "{replaced} in {part}");
        }
    }
}

#[tokio::test]
async fn values_are_escaped_in_the_html_part_only() {
    let server = SmtpServer::start().await;
    let name = "<script>alert(1)</script>";
    let notifier = notifier(&server)
        .with_subject_template("Code for {{ first_name }}")
        .unwrap();
    send(&notifier, &user(name, "ada@example.com"))
        .await
        .unwrap();

    let mail = only_mail(&server);
    assert!(
        mail.html
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{}",
        mail.html
    );
    assert!(!mail.html.contains(name), "{}", mail.html);
    assert!(
        mail.text.contains(&format!("Hello {name},")),
        "{}",
        mail.text
    );
    assert_eq!(mail.subject, format!("Code for {name}"));
}

#[tokio::test]
async fn a_subject_that_would_carry_a_line_break_is_refused() {
    let server = SmtpServer::start().await;
    let notifier = notifier(&server)
        .with_subject_template("Code {{ token }} for {{ first_name }}")
        .unwrap();
    for name in ["Ada\r\nBcc: eve@example.com", "Ada\nBcc: eve@example.com"] {
        let err = send(&notifier, &user(name, "ada@example.com"))
            .await
            .unwrap_err();
        assert!(matches!(err, NotifyError::Message(_)), "{err:?}");
        assert!(!err.to_string().contains(CODE), "{err}");
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_user_without_an_email_has_no_address() {
    let server = SmtpServer::start().await;
    let err = send(&notifier(&server), &user("Ada", ""))
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::NoAddress), "{err:?}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn an_invalid_address_is_a_message_error() {
    let server = SmtpServer::start().await;
    let err = send(&notifier(&server), &user("Ada", "ada at example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::Message(_)), "{err:?}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_refused_recipient_is_unavailable() {
    let server = SmtpServer::start().await;
    let err = send(&notifier(&server), &user("Ada", REFUSED_RECIPIENT))
        .await
        .unwrap_err();
    match &err {
        NotifyError::Unavailable(message) => assert!(message.contains("550"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains(CODE), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable_at_once() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let notifier = EmailNotifier::from_url(&format!("smtp://{closed}"), FROM)
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let started = Instant::now();
    let err = send(&notifier, &ada()).await.unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts every connection and keeps it open without ever sending the greeting.
    let addr = net::silent_server().await;
    let timeout = Duration::from_millis(300);
    let notifier = EmailNotifier::from_url(&format!("smtp://{addr}"), FROM)
        .unwrap()
        .with_timeout(timeout);
    let started = Instant::now();
    // The outer bound only turns a hang (the bug this test is about) into a failure.
    let err = tokio::time::timeout(Duration::from_secs(5), send(&notifier, &ada()))
        .await
        .expect("the notifier gave up by itself")
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(err, NotifyError::Timeout(t) if t == timeout),
        "{err:?}"
    );
    assert!(elapsed >= timeout, "{elapsed:?}");
    assert!(
        elapsed < timeout + Duration::from_millis(500),
        "{elapsed:?}"
    );
}

#[test]
fn a_bad_url_or_from_address_fails_at_startup() {
    let err = EmailNotifier::from_url("http://smtp.example.com", FROM).unwrap_err();
    assert!(matches!(err, EmailSetupError::Url(_)), "{err:?}");
    let err = EmailNotifier::from_url("smtp://user:secret@smtp.example.com", "nobody").unwrap_err();
    assert!(matches!(err, EmailSetupError::From(_)), "{err:?}");
    let err = EmailNotifier::from_url("smtp://user:secret@", FROM).unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
}
