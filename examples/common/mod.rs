//! What the examples share: command line, users, settings and the layer's parts.

pub mod database;
pub mod serve;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;

use tower_otp::{notify::ConsoleNotifier, OtpAuthBuilder, OtpAuthLayer, OtpSettings};

use database::SecondFactors;
use users::load_users;
#[allow(unused_imports)] // the tonic example serves no `/api/me`
pub use users::{me, Users};

pub struct Args {
    pub addr: SocketAddr,
    pub users: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// `--database <url>`: enrollments (and with `--django`, the users) in that database.
    pub database: Option<String>,
    /// `--django`: the users are the database's Django `auth_user` table.
    pub django: bool,
}

const USAGE: &str = "usage: [--addr 127.0.0.1:3000] [--users users.json] [--config settings.toml]
       [--database 'sqlite://users.db?mode=rwc' | 'postgres://…'] [--django]
environment: OTP_SECRET_KEY (>= 32 bytes, shared by instances that share a store),
             REDIS_URL (use Redis; feature redis-store), SMTP_URL and SMTP_FROM (send e-mail; feature email)";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:3000".parse().unwrap(),
        users: None,
        config: None,
        database: None,
        django: false,
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
            "--database" => args.database = Some(value()?),
            "--django" => args.django = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
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
pub async fn setup(protected: &[&str]) -> Result<Setup, String> {
    let args = parse_args()?;
    if args.django && args.database.is_none() {
        return Err(format!("--django needs --database\n{USAGE}"));
    }
    let memory_users = Users::Memory(load_users(args.users.as_deref())?);
    let (users, second_factors) = match &args.database {
        Some(url) => database::open(url, args.django, memory_users).await?,
        None => (memory_users, SecondFactors::in_memory()),
    };
    // Before the layer records anything.
    let metrics = Metrics::install()?;
    let layer = build_layer(&args, users.clone(), second_factors, protected)?;
    Ok(Setup {
        args,
        users,
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
    users: Users,
    second_factors: SecondFactors,
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
    let layer = OtpAuthLayer::builder(users, ConsoleNotifier::new()).with_settings(settings);
    let mut layer = second_factors.into_layer(layer);
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
#[cfg(any(
    feature = "email",
    feature = "redis-store",
    feature = "sqlite",
    feature = "postgres"
))]
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
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

/// Completes on Ctrl-C, or never if the signal cannot be listened for.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
