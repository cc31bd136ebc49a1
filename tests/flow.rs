//! The flow without HTTP: an application's own handlers run login, verify, authenticate and
//! logout through `OtpAuthLayer::flow`, with typed outcomes and errors.

mod common;

use std::time::Duration;

use common::app::*;
use tower_otp::flow::{Client, FlowError, Login, Logout};
use tower_otp::notify::ConsoleNotifier;
use tower_otp::{ManualClock, OtpAuthLayer};

fn layer(console: &Console, clock: &ManualClock) -> OtpAuthLayer {
    OtpAuthLayer::builder(demo_users(), ConsoleNotifier::with_writer(console.clone()))
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_whole_login_through_the_flow() {
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let flow = layer(&console, &clock).flow();
    let client = Client::new(Some("192.0.2.7".parse().unwrap()));

    let Login::CodeSent(pending) = flow.login("alice", PASSWORD, &client).await.unwrap() else {
        panic!("OTP is on");
    };
    assert_eq!(pending.user.username, "alice");
    assert_eq!(pending.code_ttl, Duration::from_secs(300));
    let signed_in = flow
        .verify(&pending.challenge, &console.last_code(), &client)
        .await
        .unwrap();
    assert!(
        !format!("{signed_in:?}").contains(&signed_in.token),
        "redacted"
    );
    let user = flow.authenticate(&signed_in.token).await.unwrap();
    assert_eq!(user.id, "1");

    flow.logout(&signed_in.token, Logout::ThisToken, &client)
        .await
        .unwrap();
    assert!(matches!(
        flow.authenticate(&signed_in.token).await,
        Err(FlowError::InvalidToken)
    ));
}

#[tokio::test]
async fn refusals_are_typed() {
    let (console, clock) = (Console::default(), ManualClock::new(start_time()));
    let flow = layer(&console, &clock).flow();
    let client = Client::default();
    assert!(matches!(
        flow.login("alice", "wrong", &client).await,
        Err(FlowError::InvalidCredentials)
    ));
    let Ok(Login::CodeSent(pending)) = flow.login("alice", PASSWORD, &client).await else {
        panic!("the right password");
    };
    assert!(matches!(
        flow.verify(&pending.challenge, "000000x", &client).await,
        Err(FlowError::WrongCode)
    ));
    assert!(matches!(
        flow.resend(&pending.challenge, &client).await,
        Err(FlowError::Throttled { retry_after }) if retry_after == Duration::from_secs(60)
    ));
    clock.advance(Duration::from_secs(301));
    assert!(matches!(
        flow.verify(&pending.challenge, &console.last_code(), &client)
            .await,
        Err(FlowError::ExpiredCode)
    ));
    assert!(matches!(
        flow.verify("not a challenge", "123456", &client).await,
        Err(FlowError::UnknownChallenge)
    ));
}
