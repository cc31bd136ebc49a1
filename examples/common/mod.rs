//! What both examples share: command line, demo users, settings and the layer's parts.

pub mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tower_otp::second_factor::MemorySecondFactorStore;
use tower_otp::{
    hash_password, notify::ConsoleNotifier, AuthenticatedUser, MemoryUserStore, OtpAuthBuilder,
    OtpAuthLayer, OtpSettings, User, UserStore,
};

/// The demo users when no `--users` file is given (documented in the README).
pub const DEMO_USERS: &str = r#"[
  {"username": "alice", "password": "correct horse battery staple", "email": "alice@example.com",
   "first_name": "Alice", "last_name": "Liddell"},
  {"username": "bob", "password": "hunter2 hunter2", "email": "bob@example.com",
   "first_name": "Bob", "last_name": "Inactive", "is_active": false}
]"#;

pub struct Args {
    pub addr: SocketAddr,
    pub users: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

const USAGE: &str = "usage: [--addr 127.0.0.1:3000] [--users users.json] [--config settings.toml]
environment: OTP_SECRET_KEY (>= 32 bytes, shared by instances that share a store),
             REDIS_URL (use Redis; feature redis-store), SMTP_URL and SMTP_FROM (send e-mail; feature email)";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:3000".parse().unwrap(),
        users: None,
        config: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--addr" => {
                args.addr = value()?
                    .parse()
                    .map_err(|e| format!("--addr: {e}\n{USAGE}"))?
            }
            "--users" => args.users = Some(value()?.into()),
            "--config" => args.config = Some(value()?.into()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// One entry of a `--users` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    #[serde(default)]
    id: Option<String>,
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default = "yes")]
    is_active: bool,
}

fn yes() -> bool {
    true
}

fn load_users(path: Option<&PathBuf>) -> Result<MemoryUserStore, String> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => DEMO_USERS.to_owned(),
    };
    let entries: Vec<UserEntry> =
        serde_json::from_str(&text).map_err(|e| format!("bad users file: {e}"))?;
    let users = entries
        .into_iter()
        .map(|e| {
            let password_hash = match (e.password_hash, e.password) {
                (Some(hash), _) => hash,
                (None, Some(password)) => hash_password(&password).map_err(|e| e.to_string())?,
                (None, None) => {
                    return Err(format!(
                        "user {}: password or password_hash needed",
                        e.username
                    ))
                }
            };
            Ok(User {
                id: e.id.unwrap_or_else(|| e.username.clone()),
                username: e.username,
                email: e.email,
                first_name: e.first_name,
                last_name: e.last_name,
                is_active: e.is_active,
                password_hash,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(MemoryUserStore::new(users))
}

/// The settings file over the library's defaults, except that the examples carry the token in
/// the body *and* a cookie (`token_transport = "both"`) unless the file says otherwise: API
/// clients (the README's curl) and the sign-in page work alike.
fn load_settings(path: Option<&PathBuf>) -> Result<OtpSettings, String> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            text.parse::<toml::Table>()
                .map_err(|e| format!("bad settings file {}: {e}", path.display()))?
        }
        None => toml::Table::new(),
    };
    table
        .entry("token_transport")
        .or_insert_with(|| "both".into());
    table.try_into().map_err(|e| format!("bad settings: {e}"))
}

/// What both examples start from: the command line, the users, the layer and its metrics.
pub struct Setup {
    pub args: Args,
    pub users: Users,
    pub layer: OtpAuthLayer,
    pub metrics: Metrics,
}

/// `protected`: the path prefixes where a request needs a live token (401 without).
pub fn setup(protected: &[&str]) -> Result<Setup, String> {
    let args = parse_args()?;
    let users = load_users(args.users.as_ref())?;
    // Before the layer records anything.
    let metrics = Metrics::install()?;
    let layer = build_layer(&args, users.clone(), protected)?;
    Ok(Setup {
        args,
        users: Arc::new(users),
        layer,
        metrics,
    })
}

/// The layer's metrics for `GET /metrics`: a Prometheus recorder with the `metrics` feature
/// (rendered on request, no listener of its own), nothing without it.
#[derive(Clone)]
pub struct Metrics {
    #[cfg(feature = "metrics")]
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
}

impl Metrics {
    #[cfg(feature = "metrics")]
    fn install() -> Result<Self, String> {
        let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
        tower_otp::metrics::describe();
        Ok(Self { prometheus })
    }

    #[cfg(not(feature = "metrics"))]
    fn install() -> Result<Self, String> {
        Ok(Self {})
    }

    /// `GET /metrics`: 200 with the Prometheus text format, or 404 without the feature.
    pub fn answer(&self) -> (http::StatusCode, String) {
        #[cfg(feature = "metrics")]
        return (http::StatusCode::OK, self.prometheus.render());
        #[cfg(not(feature = "metrics"))]
        (
            http::StatusCode::NOT_FOUND,
            "metrics are off: run the example with `--features metrics`\n".to_owned(),
        )
    }
}

/// Ends the process with the message of a failed start.
pub fn exit_on_error(result: Result<(), String>) {
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

/// The layer as both examples configure it, from the command line and the environment.
fn build_layer(
    args: &Args,
    users: MemoryUserStore,
    protected: &[&str],
) -> Result<OtpAuthLayer, String> {
    let mut settings = load_settings(args.config.as_ref())?;
    if settings.token_transport.uses_cookie() && args.addr.ip().is_loopback() {
        // Browsers send a Secure cookie only over HTTPS (localhost aside, in some of them):
        // plain HTTP on this machine is for development, and only there is Secure dropped.
        settings.dev_insecure_cookies = true;
        println!(
            "note: cookies without Secure, for http://{} only",
            args.addr
        );
    }
    // Authenticator apps and recovery codes: in memory here, in your database in a real
    // application (implement `SecondFactorStore` next to your users).
    let mut layer = OtpAuthLayer::builder(users, ConsoleNotifier::new())
        .with_settings(settings)
        .with_second_factor_store(MemorySecondFactorStore::new());
    for path in protected {
        layer = layer.with_protected_path(path);
    }
    if let Ok(key) = std::env::var("OTP_SECRET_KEY") {
        layer = layer.with_secret_key(key.as_bytes());
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        layer = with_redis(layer, &url)?;
    }
    if let Ok(url) = std::env::var("SMTP_URL") {
        layer = with_email(layer, &url)?;
    }
    layer.build().map_err(|e| {
        let hint = if e.keys().contains(&"secret_key") {
            "\nset OTP_SECRET_KEY to at least 32 random bytes, the same for every instance"
        } else {
            ""
        };
        format!("{e}{hint}")
    })
}

/// `REDIS_URL` set: challenges, tokens and counters live in Redis.
#[cfg(feature = "redis-store")]
fn with_redis(layer: OtpAuthBuilder, url: &str) -> Result<OtpAuthBuilder, String> {
    let store = tower_otp::store::RedisStore::new(url).map_err(|e| format!("REDIS_URL: {e}"))?;
    println!("tokens and challenges are kept in Redis at {}", redact(url));
    Ok(layer.with_store(store))
}

#[cfg(not(feature = "redis-store"))]
fn with_redis(_: OtpAuthBuilder, _: &str) -> Result<OtpAuthBuilder, String> {
    Err("REDIS_URL is set: run the example with `--features redis-store` to use Redis".into())
}

/// `SMTP_URL` set: codes go by e-mail (from `SMTP_FROM`), with the settings' `email_config`.
#[cfg(feature = "email")]
fn with_email(layer: OtpAuthBuilder, url: &str) -> Result<OtpAuthBuilder, String> {
    let from = std::env::var("SMTP_FROM")
        .unwrap_or_else(|_| "tower-otp example <no-reply@localhost>".to_owned());
    println!("codes are sent by e-mail through {}", redact(url));
    Ok(layer.with_email(url, &from))
}

#[cfg(not(feature = "email"))]
fn with_email(_: OtpAuthBuilder, _: &str) -> Result<OtpAuthBuilder, String> {
    Err("SMTP_URL is set: run the example with `--features email` to send e-mail".into())
}

/// A URL without its credentials, for the console.
#[cfg(any(feature = "email", feature = "redis-store"))]
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// `GET /api/me`: the authenticated user, as JSON.
pub async fn me(users: &MemoryUserStore, who: &AuthenticatedUser) -> Value {
    let user = users.find_by_id(&who.id).await.ok().flatten();
    let seconds = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    json!({
        "id": who.id,
        "username": who.username,
        "email": user.as_ref().map(|u| u.email.as_str()),
        "first_name": user.as_ref().map(|u| u.first_name.as_str()),
        "last_name": user.as_ref().map(|u| u.last_name.as_str()),
        "token_issued_at": seconds(who.issued_at),
        "token_expires_at": seconds(who.expires_at),
    })
}

pub fn banner(kind: &str, addr: SocketAddr, args: &Args, limits: &serve::ServeConfig) {
    println!("tower-otp {kind} example listening on http://{addr}");
    println!("limits: {limits}");
    if args.users.is_none() {
        println!("demo user: alice / \"correct horse battery staple\"");
    }
    println!(
        "routes: GET /health (public), GET /api/me (token), GET /metrics (feature metrics), \
         POST /api-auth/{{login,verify-token,resend-token,logout}}/, \
         POST /api-auth/{{totp/setup,totp/confirm,totp/disable,recovery-codes}}/ (token)"
    );
}

pub type Users = Arc<MemoryUserStore>;

/// Completes on Ctrl-C, or never if the signal cannot be listened for.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
