//! Configuration: paths, settings, strategies, and what the builder refuses.

use http::StatusCode;
use serde_json::json;
use tower_otp::{OtpAuthLayer, OtpSettings};

use crate::common::app::*;

#[tokio::test]
async fn paths_are_configurable_one_by_one_and_as_a_prefix() {
    let app = TestApp::with(|layer| layer.with_path_prefix("/auth/").with_login_path("/signin"));
    assert_eq!(
        app.login("alice", PASSWORD).await.status,
        StatusCode::NOT_FOUND
    );
    let login = app
        .post_json(
            "/signin",
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let verify = app
        .post_json(
            "/auth/verify-token",
            json!({ "challenge": login.str("challenge"), "token": app.console.last_code() }),
        )
        .await;
    assert_eq!(verify.status, StatusCode::OK, "trailing slash optional");
}

#[tokio::test]
async fn with_settings_keeps_the_protected_paths() {
    let app = TestApp::with(|layer| {
        // test_layer protects /api/ before the settings arrive.
        layer.with_settings(tower_otp::OtpSettings::default())
    });
    let plain = app.get("/api/plain", None).await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn strategies_refuse_code_lengths_they_cannot_make() {
    use tower_otp::strategy::{PerChallengeHotpStrategy, RandomCodeStrategy};
    let layer = || {
        let (clock, console) = (tower_otp::ManualClock::default(), Console::default());
        test_layer(&clock, &console, &tower_otp::store::MemoryStore::new())
    };
    let ten_random_digits = {
        let mut s = tower_otp::OtpSettings::default();
        s.default_token_type = tower_otp::CodeType::Code;
        s.token_length = 10;
        s
    };
    let err = layer()
        .with_strategy(PerChallengeHotpStrategy)
        .with_settings(ten_random_digits.clone())
        .build()
        .unwrap_err();
    assert_eq!(err.keys(), ["token_length"]);
    // In either order.
    let err = layer()
        .with_settings(ten_random_digits.clone())
        .with_strategy(PerChallengeHotpStrategy)
        .build()
        .unwrap_err();
    assert_eq!(err.keys(), ["token_length"]);
    let random = layer()
        .with_settings(ten_random_digits)
        .with_strategy(RandomCodeStrategy)
        .build()
        .unwrap();
    assert_eq!(random.settings().token_length, 10);
}

#[test]
fn paths_that_would_protect_nothing_or_shadow_an_endpoint_are_refused() {
    let layer = || OtpAuthLayer::builder(demo_users(), tower_otp::notify::ConsoleNotifier::new());
    let refused = |toml_text: &str| {
        let settings: OtpSettings = toml::from_str(toml_text).unwrap();
        layer().with_settings(settings).build().unwrap_err().keys()
    };
    assert_eq!(
        refused(r#"protected_paths = ["health"]"#),
        ["protected_paths"]
    );
    assert_eq!(
        refused("login_path = \"/auth/x/\"\nverify_path = \"/auth/x\""),
        ["verify_path"]
    );
    assert_eq!(
        refused(r#"logout_path = "api-auth/logout/""#),
        ["logout_path"]
    );

    assert_eq!(
        layer()
            .with_protected_path("health")
            .build()
            .unwrap_err()
            .keys(),
        ["protected_paths"]
    );
    let clash = layer()
        .with_login_path("/auth/x/")
        .with_verify_path("/auth/x")
        .build()
        .unwrap_err();
    assert_eq!(clash.keys(), ["verify_path"]);
    assert!(clash.to_string().contains("login_path"), "{clash}");
    assert_eq!(
        layer().with_path_prefix("auth").build().unwrap_err().keys(),
        ["path_prefix"]
    );
    // Moving one endpoint onto its own path again is fine.
    let moved = layer().with_login_path("/api-auth/login").build().unwrap();
    assert_eq!(moved.settings().login_path, "/api-auth/login");
}

#[test]
fn every_problem_is_reported_at_once_whatever_the_order() {
    let layer = || OtpAuthLayer::builder(demo_users(), tower_otp::notify::ConsoleNotifier::new());
    let settings: OtpSettings =
        toml::from_str("token_length = 4\nprotected_paths = [\"/admin/\"]").unwrap();
    let errors = layer()
        .with_username_field("password")
        .with_settings(settings.clone())
        .with_secret_key(b"too short")
        .build()
        .unwrap_err();
    assert_eq!(
        errors.keys(),
        ["token_length", "username_field", "secret_key"]
    );
    // The builder's values win over the settings', before or after them; lists add up.
    let fixed = {
        let mut s = settings;
        s.token_length = 6;
        s
    };
    let before = layer()
        .with_protected_path("/api/")
        .with_login_path("/signin/")
        .with_settings(fixed.clone())
        .build()
        .unwrap();
    let after = layer()
        .with_settings(fixed)
        .with_protected_path("/api/")
        .with_login_path("/signin/")
        .build()
        .unwrap();
    assert_eq!(before.settings(), after.settings());
    assert_eq!(before.settings().protected_paths, ["/admin/", "/api/"]);
    assert_eq!(before.settings().login_path, "/signin/");
}
