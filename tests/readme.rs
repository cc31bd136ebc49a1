//! The README's settings example is real: it parses and validates.

use tower_otp::{CodeType, OtpSettings};

#[test]
fn readme_toml_example_parses() {
    let readme = include_str!("../README.md");
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a toml block");
    let settings: OtpSettings = toml::from_str(block).expect("the README's TOML parses");
    settings.validate().unwrap();
    assert_eq!(
        settings,
        OtpSettings::default(),
        "the README shows the defaults"
    );
    assert_eq!(settings.default_token_type, CodeType::Totp);
}
