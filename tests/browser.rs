//! The axum example's sign-in page, driven in headless Chromium through WebDriver: sign in with
//! the code the console notifier printed, see the user's name, reload and stay signed in, have a
//! cross-origin form post refused, sign out, come back on a remembered device without a code,
//! set up an authenticator app (QR code, first code, recovery codes) and sign in with its
//! code. Each step is photographed (into `TOWER_OTP_SCREENSHOTS`, the README's pictures, or
//! the target directory).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`), or
//! a running WebDriver at `TOWER_OTP_WEBDRIVER_URL`. Without them the test says so loudly and
//! passes, unless `TOWER_OTP_REQUIRE_BROWSER` is set (as `.ci/run` does): then it fails.

mod common;
#[path = "../examples/signin/mod.rs"]
mod signin;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use common::app::{demo_users, test_layer, Console, PASSWORD};
use common::authenticator::app_code;
use common::redis_server::free_port;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tower_otp::store::MemoryStore;
use tower_otp::{AuthenticatedUser, Clock, ManualClock, OtpSettings, TokenTransport, UserStore};

/// A chromedriver process, in a process group of its own with the browsers it starts: the
/// whole group is stopped when dropped, even when the test panics.
struct Driver {
    process: Option<Child>,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(process) = &mut self.process {
            let group = format!("-{}", process.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// The WebDriver to use: `TOWER_OTP_WEBDRIVER_URL`, else a private chromedriver on a free port.
/// `None` when there is neither.
fn start_driver() -> Option<Driver> {
    if let Ok(url) = std::env::var("TOWER_OTP_WEBDRIVER_URL") {
        return Some(Driver { process: None, url });
    }
    let binary = chromedriver()?;
    // A port found free may be taken before chromedriver binds it: then it exits, and another
    // port is tried.
    for _ in 0..3 {
        if let Some(driver) = spawn_driver(&binary, free_port()) {
            return Some(driver);
        }
    }
    panic!("chromedriver did not start on any of three free ports");
}

/// Starts chromedriver on `port`: ready once it says so on its standard output (read to the end
/// by a thread, so that it never blocks on a full pipe), within 30 seconds.
fn spawn_driver(binary: &Path, port: u16) -> Option<Driver> {
    let mut process = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let stdout = process.stdout.take().expect("piped stdout");
    let (ready, started) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("started successfully") {
                let _ = ready.send(());
            }
        }
    });
    let driver = Driver {
        process: Some(process),
        url: format!("http://127.0.0.1:{port}"),
    };
    match started.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => Some(driver),
        Err(mpsc::RecvTimeoutError::Disconnected) => None,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("chromedriver not ready within 30 s"),
    }
}

fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromedriver"))
        .find(|candidate| candidate.is_file())
}

async fn open_browser(driver: &Driver) -> Client {
    let mut args = vec![
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=760,800",
    ];
    // Chromium refuses to run as root with its sandbox (containers, CI).
    if std::env::var("USER").as_deref() == Ok("root") || is_root() {
        args.push("--no-sandbox");
    }
    let mut options = json!({ "args": args });
    if let Ok(binary) = std::env::var("TOWER_OTP_CHROMIUM") {
        options["binary"] = binary.into();
    }
    let capabilities = json!({ "browserName": "chrome", "goog:chromeOptions": options });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session from the WebDriver")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
    })
}

/// The example's page in front of the layer in cookie mode, on a free loopback port.
async fn serve_app(console: &Console, clock: &ManualClock) -> SocketAddr {
    let mut settings = OtpSettings::default();
    settings.token_transport = TokenTransport::Cookie;
    // Plain HTTP on loopback, as the example does it.
    settings.dev_insecure_cookies = true;
    let layer = test_layer(clock, console, &MemoryStore::new())
        .with_settings(settings)
        .build()
        .expect("a valid layer");
    let app = Router::new()
        .route(
            "/api/me",
            get(|user: AuthenticatedUser| async move {
                // As the example's: the names from the user store.
                let found = demo_users().find_by_id(&user.id).await.unwrap().unwrap();
                Json(json!({
                    "username": user.username,
                    "first_name": found.first_name,
                    "last_name": found.last_name,
                }))
            }),
        )
        .merge(signin::routes())
        .layer(layer);
    serve(app).await
}

/// Another origin: a page whose form posts a logout to the application.
async fn serve_other_origin(app: SocketAddr) -> SocketAddr {
    let page = format!(
        r#"<!doctype html>
        <form method="post" action="http://{app}/api-auth/logout/">
          <button id="forge-logout">Sign them out</button></form>
        <form method="post" action="http://{app}/api-auth/login/">
          <input type="hidden" name="username" value="alice">
          <input type="hidden" name="password" value="{PASSWORD}">
          <button id="forge-login">Sign them in as me</button></form>"#
    );
    serve(Router::new().route("/", get(move || async move { Html(page) }))).await
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Where the pictures go.
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("TOWER_OTP_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Page {
    browser: Client,
    shots: PathBuf,
}

impl Page {
    /// Waits (the WebDriver polls) until the element is displayed.
    async fn shown(&self, css: &str) -> fantoccini::elements::Element {
        let element = self
            .browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(&format!("{css}:not([hidden])")))
            .await
            .unwrap_or_else(|e| panic!("{css} never shown: {e}"));
        assert!(element.is_displayed().await.unwrap(), "{css} displayed");
        element
    }

    /// Waits (the WebDriver polls) until some element's text contains `text`.
    async fn says(&self, text: &str) {
        self.browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&format!("//*[contains(text(), '{text}')]")))
            .await
            .unwrap_or_else(|e| panic!("{text:?} never shown: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.browser.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn photograph(&self, name: &str) {
        let png = self.browser.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Password step through to "signed in", optionally remembering the device.
    async fn sign_in(&self, console: &Console, remember: bool) {
        self.shown("#password-step").await;
        self.fill("#password-step [name=username]", "alice").await;
        self.fill("#password-step [name=password]", PASSWORD).await;
        let sent = console.codes().len();
        self.click("#password-step button[type=submit]").await;
        self.shown("#code-step").await;
        let codes = console.codes();
        assert_eq!(codes.len(), sent + 1, "one code was sent");
        self.fill("#code-step [name=code]", codes.last().unwrap())
            .await;
        if remember {
            self.click("#code-step [name=remember]").await;
        }
        self.click("#code-step button[type=submit]").await;
        self.shown("#signed-in").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_works_in_a_real_browser() {
    let Some(driver) = start_driver() else {
        let message = "\n\n!!! SKIPPED the_sign_in_page_works_in_a_real_browser: no chromedriver on \
                       PATH and no TOWER_OTP_WEBDRIVER_URL (apt-get install chromium chromium-driver) !!!\n";
        assert!(
            std::env::var_os("TOWER_OTP_REQUIRE_BROWSER").is_none(),
            "{message}"
        );
        // Straight to standard error: the test harness would swallow `eprintln!` of a pass.
        let _ = std::io::stderr().write_all(message.as_bytes());
        return;
    };
    let console = Console::default();
    let clock = ManualClock::new(std::time::SystemTime::now());
    let app = serve_app(&console, &clock).await;
    let other = serve_other_origin(app).await;
    let page = Page {
        browser: open_browser(&driver).await,
        shots: screenshot_dir(),
    };
    let home = format!("http://{app}/");

    // Signed out at first; a wrong password is said so, and no code goes out.
    page.browser.goto(&home).await.unwrap();
    page.shown("#password-step").await;
    page.fill("#password-step [name=username]", "alice").await;
    page.fill("#password-step [name=password]", "wrong").await;
    page.click("#password-step button[type=submit]").await;
    page.says("Unable to log in").await;
    assert!(console.codes().is_empty());

    // Password, code (resent once: the new code is the one that counts), signed in.
    page.fill("#password-step [name=password]", PASSWORD).await;
    page.photograph("1-password").await;
    page.click("#password-step button[type=submit]").await;
    page.shown("#code-step").await;
    clock.advance(Duration::from_secs(OtpSettings::default().resend_cooldown));
    page.click("#resend").await;
    page.says("A new code is on its way.").await;
    assert_eq!(
        console.codes().len(),
        2,
        "the first code and the resent one"
    );
    page.fill("#code-step [name=code]", &console.last_code())
        .await;
    page.photograph("2-code").await;
    page.click("#code-step button[type=submit]").await;
    page.shown("#signed-in").await;
    assert_eq!(page.text("#who").await, "alice Example (alice)");
    page.photograph("3-signed-in").await;

    // A reload keeps the session: the cookie, not the page, holds it.
    page.browser.refresh().await.unwrap();
    page.shown("#signed-in").await;
    assert_eq!(page.text("#who").await, "alice Example (alice)");

    // Forms on another origin posting a logout or a login are refused; the session survives.
    let codes_sent = console.codes().len();
    for forge in ["#forge-logout", "#forge-login"] {
        page.browser
            .goto(&format!("http://{other}/"))
            .await
            .unwrap();
        page.click(forge).await;
        page.says("CSRF check failed.").await;
    }
    assert_eq!(
        console.codes().len(),
        codes_sent,
        "the forged login sent no code"
    );
    page.browser.goto(&home).await.unwrap();
    page.shown("#signed-in").await;

    // Sign out: signed out for the page and for the API.
    page.click("#sign-out").await;
    page.shown("#password-step").await;
    assert_eq!(page.text("#message").await, "Signed out.");
    page.photograph("4-signed-out").await;
    page.browser
        .goto(&format!("http://{app}/api/me"))
        .await
        .unwrap();
    let me = page.browser.source().await.unwrap();
    assert!(me.contains("credentials were not provided"), "{me}");

    // Remembered: the next sign-in of this browser needs the password only.
    page.browser.goto(&home).await.unwrap();
    page.sign_in(&console, true).await;
    page.click("#sign-out").await;
    page.shown("#password-step").await;
    let sent = console.codes().len();
    page.fill("#password-step [name=username]", "alice").await;
    page.fill("#password-step [name=password]", PASSWORD).await;
    page.click("#password-step button[type=submit]").await;
    page.shown("#signed-in").await;
    assert!(page.text("#how").await.contains("remembered"));
    assert_eq!(console.codes().len(), sent, "no code was sent");
    page.photograph("5-remembered").await;

    // An authenticator app, set up from the signed-in page: its QR code and key, its first code,
    // then the recovery codes, shown once.
    page.click("#setup-app").await;
    page.shown("#enroll-step").await;
    page.shown("#qr svg").await;
    let secret = page.text("#secret").await;
    assert_eq!(secret.len(), 32, "{secret}");
    page.fill("#enroll-step [name=code]", &app_code(&secret, clock.now()))
        .await;
    page.photograph("6-authenticator").await;
    page.click("#enroll-step button[type=submit]").await;
    page.shown("#recovery-step").await;
    let listed = page
        .browser
        .find_all(Locator::Css("#recovery-codes li"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 10);
    page.photograph("7-recovery-codes").await;
    page.click("#recovery-done").await;
    page.shown("#signed-in").await;

    // The next sign-in asks for the app's code (the remembered device was forgotten when the
    // app was turned on), offers no resend, and sends nothing.
    page.click("#sign-out").await;
    page.shown("#password-step").await;
    let sent = console.codes().len();
    page.fill("#password-step [name=username]", "alice").await;
    page.fill("#password-step [name=password]", PASSWORD).await;
    page.click("#password-step button[type=submit]").await;
    page.shown("#code-step").await;
    assert!(page.text("#code-hint").await.contains("authenticator app"));
    let resend = page.browser.find(Locator::Css("#resend")).await.unwrap();
    assert!(!resend.is_displayed().await.unwrap(), "nothing to resend");
    clock.advance(Duration::from_secs(30));
    page.fill("#code-step [name=code]", &app_code(&secret, clock.now()))
        .await;
    page.photograph("8-app-code").await;
    page.click("#code-step button[type=submit]").await;
    page.shown("#signed-in").await;
    assert_eq!(console.codes().len(), sent, "no code was sent");

    page.browser.close().await.unwrap();
}
