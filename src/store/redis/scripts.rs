//! The Lua scripts, one file each in `lua/` (with what they take and return at the top), and
//! the outcome codes they answer with. Redis runs each script with nothing else in between.

use std::sync::LazyLock;

use ::redis::Script;

/// Lua shared by the scripts, prepended to each.
const COMMON: &str = include_str!("lua/common.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}{body}"))
}

macro_rules! scripts {
    ($($name:ident = $file:literal;)*) => {
        $(
            pub(super) static $name: LazyLock<Script> =
                LazyLock::new(|| script(include_str!(concat!("lua/", $file))));
        )*
    };
}

scripts! {
    VERIFY = "verify.lua";
    CREATE = "create.lua";
    RESEND = "resend.lua";
    DELETE = "delete.lua";
    ISSUE = "issue.lua";
    AUTHENTICATE = "authenticate.lua";
    REVOKE_TOKENS = "revoke_tokens.lua";
    REVOKE_DEVICES = "revoke_devices.lua";
    COUNT_PASSWORD_ATTEMPT = "count_password_attempt.lua";
    FORGIVE_PASSWORD_ATTEMPT = "forgive_password_attempt.lua";
    HIT = "hit.lua";
    REMEMBER_DEVICE = "remember_device.lua";
    CLAIM_TIME_STEP = "claim_time_step.lua";
    BEGIN_APP_SETUP = "begin_app_setup.lua";
    FAIL_APP_SETUP = "fail_app_setup.lua";
}

// Outcome codes of the verify script.
pub(super) const VERIFIED: i64 = 1;
pub(super) const MISMATCH: i64 = 2;
pub(super) const EXPIRED: i64 = 3;
pub(super) const REPLAYED: i64 = 4;
pub(super) const NOT_FOUND: i64 = 5;
pub(super) const LOCKED: i64 = 6;

// Outcome codes of the resend script.
pub(super) const RESENT: i64 = 1;
pub(super) const COOLDOWN: i64 = 2;
pub(super) const EXHAUSTED: i64 = 3;
pub(super) const NO_CHALLENGE: i64 = 4;
