//! The wire contract (DESIGN §2), through `ServiceExt::oneshot` on an axum router, one file per
//! concern.

#[path = "../common/mod.rs"]
mod common;

mod authenticator;
mod config;
mod cookies;
mod devices;
mod login;
mod resend;
mod tokens;
mod verify;
mod wire;

const INVALID_CREDENTIALS: &str =
    r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#;
const INVALID_TOKEN: &str = r#"{"non_field_errors":["Invalid token."]}"#;
