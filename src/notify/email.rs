//! [`EmailNotifier`]: codes by e-mail over SMTP ([`lettre`]), the message rendered from
//! [`minijinja`] templates (see the type's docs for the templates and their variables).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use tower_otp::notify::EmailNotifier;
//! use tower_otp::EmailConfig;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let notifier = EmailNotifier::from_url(
//!     "smtps://user:secret@smtp.example.com",
//!     "Example <no-reply@example.com>",
//! )?
//! .with_timeout(Duration::from_secs(5))
//! .with_email_config(&EmailConfig {
//!     subject: "Your {{ otp_ttl_minutes }}-minute sign-in code".to_owned(),
//!     ..EmailConfig::default()
//! })?
//! .with_text_template(
//!     "{% extends \"tower_otp/email.txt\" %}{% block footer %}The Example team{% endblock %}",
//! )?;
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::value::{merge_maps, Value};
use minijinja::Environment;

use super::notifier::{Delivery, Notifier, NotifyError};
use crate::config::EmailConfig;
use crate::user::User;

const SUBJECT: &str = "subject";
// The `.html` / `.txt` names select minijinja's auto-escaping: HTML for the HTML part, none
// for the text part and the subject.
const HTML: &str = "email.html";
const TEXT: &str = "email.txt";
const DEFAULT_HTML: &str = "tower_otp/email.html";
const DEFAULT_TEXT: &str = "tower_otp/email.txt";
const DEFAULT_HTML_SOURCE: &str = include_str!("../../templates/email.html");
const DEFAULT_TEXT_SOURCE: &str = include_str!("../../templates/email.txt");
const DEFAULT_SUBJECT: &str = "Verification Token";

/// A problem found while building an [`EmailNotifier`]: reported at startup, never at login.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailSetupError {
    /// The SMTP URL is not usable (bad syntax, unknown scheme or `tls` value).
    #[error("invalid SMTP URL: {0}")]
    Url(String),
    /// The from address is not a valid mailbox.
    #[error("invalid from address: {0}")]
    From(String),
    /// A template file could not be read.
    #[error("cannot read e-mail template {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A template does not compile, does not render with sample values, or (the subject)
    /// renders to more than one line.
    #[error("invalid e-mail {template} template: {message}")]
    Template {
        /// Which template: `subject`, `text` or `html`.
        template: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// Sends each code by e-mail over SMTP, as a `multipart/alternative` message with a
/// plain-text and an HTML part.
///
/// Every send, the whole SMTP conversation included, is bounded by a timeout
/// ([`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT) unless set with
/// [`with_timeout`](Self::with_timeout)), so a stuck mail server turns into a
/// [`NotifyError::Timeout`] instead of a hanging login.
///
/// # Templates
///
/// The subject (default `Verification Token`), the text part and the HTML part are
/// [`minijinja`] templates, replaceable by string
/// ([`with_subject_template`](Self::with_subject_template),
/// [`with_text_template`](Self::with_text_template),
/// [`with_html_template`](Self::with_html_template)) or by the paths of [`EmailConfig`]
/// ([`with_email_config`](Self::with_email_config)). Each is checked when it is set, by
/// rendering it once with sample values, so a broken template fails at startup rather than
/// at the first login. Values are HTML-escaped in the HTML part only.
///
/// The shipped templates greet the user by first name (or username), show the code and its
/// lifetime in minutes, and tell the user to change the password if the login wasn't theirs.
/// They use inline CSS only, so they look the same in every mail client.
///
/// A template sees these variables:
///
/// | name | value |
/// |---|---|
/// | `token` | the code |
/// | `first_name`, `last_name`, `full_name`, `username`, `email` | the user's |
/// | `otp_ttl` | the code's lifetime in seconds |
/// | `otp_ttl_minutes` | the same in minutes, rounded up |
///
/// and every key of the application's extra context ([`Delivery::extra_context`]), except
/// that it cannot replace the keys above. The shipped templates use `introduction`,
/// `description` and `footer` from there when present, like django-drf-otp's template did.
/// A template can also extend a shipped one, `tower_otp/email.html` or
/// `tower_otp/email.txt`, and override its blocks `introduction`, `description`, `token`,
/// `lifetime`, `warning` and `footer` (and `title` in HTML).
///
/// ```no_run
/// use tower_otp::notify::EmailNotifier;
///
/// # fn main() -> Result<(), tower_otp::notify::EmailSetupError> {
/// let notifier = EmailNotifier::from_url("smtp://localhost:2525", "no-reply@example.com")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
    templates: Environment<'static>,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials: leave it out.
        f.debug_struct("EmailNotifier")
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// How long a send may take unless [`with_timeout`](Self::with_timeout) says otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A notifier sending through the SMTP server of `url`, from the mailbox `from`
    /// (`no-reply@example.com` or `Example <no-reply@example.com>`), with the shipped
    /// templates.
    ///
    /// The URL is lettre's ([`AsyncSmtpTransport::from_url`]):
    /// `smtps://user:pass@host[:port]` for implicit TLS (port 465 by default),
    /// `smtp://user:pass@host:port?tls=required` for STARTTLS,
    /// `smtp://host:port` for plain SMTP (local relays and tests only). Credentials are
    /// optional and percent-encoded.
    ///
    /// ```
    /// use tower_otp::notify::EmailNotifier;
    ///
    /// let notifier = EmailNotifier::from_url(
    ///     "smtp://user:secret@smtp.example.com:587?tls=required",
    ///     "Example <no-reply@example.com>",
    /// )
    /// .unwrap();
    /// assert!(EmailNotifier::from_url("ftp://example.com", "no-reply@example.com").is_err());
    /// assert!(EmailNotifier::from_url("smtp://localhost", "not an address").is_err());
    /// ```
    pub fn from_url(url: &str, from: &str) -> Result<Self, EmailSetupError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e: lettre::address::AddressError| EmailSetupError::From(e.to_string()))?;
        // lettre's own timeout only covers connecting; `deliver` bounds the whole send.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| EmailSetupError::Url(e.to_string()))?
            .timeout(None)
            .build();
        Ok(Self::new(transport, from))
    }

    /// A notifier over a transport built with lettre directly, for what a URL cannot say
    /// (custom TLS parameters, a connection pool, ...), with the shipped templates.
    ///
    /// ```
    /// use tower_otp::lettre::{AsyncSmtpTransport, Tokio1Executor};
    /// use tower_otp::notify::EmailNotifier;
    ///
    /// let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("localhost")
    ///     .port(2525)
    ///     .build();
    /// let notifier = EmailNotifier::new(transport, "no-reply@example.com".parse().unwrap());
    /// ```
    pub fn new(transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox) -> Self {
        let mut templates = Environment::new();
        for (name, source) in [
            (DEFAULT_HTML, DEFAULT_HTML_SOURCE),
            (HTML, DEFAULT_HTML_SOURCE),
            (DEFAULT_TEXT, DEFAULT_TEXT_SOURCE),
            (TEXT, DEFAULT_TEXT_SOURCE),
            (SUBJECT, DEFAULT_SUBJECT),
        ] {
            templates
                .add_template(name, source)
                .expect("the shipped templates compile");
        }
        Self {
            transport,
            from,
            timeout: Self::DEFAULT_TIMEOUT,
            templates,
        }
    }

    /// Bounds every send, from connecting to the server's answer to the message. Default
    /// [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_otp::notify::EmailNotifier;
    ///
    /// let notifier = EmailNotifier::from_url("smtp://localhost:2525", "no-reply@example.com")
    ///     .unwrap()
    ///     .with_timeout(Duration::from_secs(3));
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces the subject template (default `Verification Token`). It is rendered without
    /// escaping, trimmed, and must come out as one line: a subject that would contain a line
    /// break is refused, at startup for the sample values and at send time for real ones.
    ///
    /// ```
    /// use tower_otp::notify::EmailNotifier;
    ///
    /// let notifier = EmailNotifier::from_url("smtp://localhost:2525", "no-reply@example.com")
    ///     .unwrap()
    ///     .with_subject_template("{{ token }} is your code")
    ///     .unwrap();
    /// ```
    pub fn with_subject_template(self, source: impl Into<String>) -> Result<Self, EmailSetupError> {
        self.with_template(SUBJECT, "subject", source.into())
    }

    /// Replaces the template of the HTML part. Values are HTML-escaped. It may extend
    /// `tower_otp/email.html`.
    ///
    /// ```
    /// use tower_otp::notify::EmailNotifier;
    ///
    /// let notifier = EmailNotifier::from_url("smtp://localhost:2525", "no-reply@example.com")
    ///     .unwrap()
    ///     .with_html_template(
    ///         r#"{% extends "tower_otp/email.html" %}{% block footer %}The Example team{% endblock %}"#,
    ///     )
    ///     .unwrap();
    /// ```
    pub fn with_html_template(self, source: impl Into<String>) -> Result<Self, EmailSetupError> {
        self.with_template(HTML, "html", source.into())
    }

    /// Replaces the template of the plain-text part. Nothing is escaped. It may extend
    /// `tower_otp/email.txt`.
    ///
    /// ```
    /// use tower_otp::notify::EmailNotifier;
    ///
    /// let notifier = EmailNotifier::from_url("smtp://localhost:2525", "no-reply@example.com")
    ///     .unwrap()
    ///     .with_text_template("Your code: {{ token }}")
    ///     .unwrap();
    /// ```
    pub fn with_text_template(self, source: impl Into<String>) -> Result<Self, EmailSetupError> {
        self.with_template(TEXT, "text", source.into())
    }

    /// Applies the settings' `email_config`: its subject template, and the HTML and text
    /// templates read from its paths now (a missing file is an error here, not at login).
    /// An unset path keeps the current template.
    ///
    /// ```no_run
    /// use tower_otp::notify::EmailNotifier;
    /// use tower_otp::OtpSettings;
    ///
    /// let settings: OtpSettings = toml::from_str(
    ///     "[email_config]\nsubject = \"Sign-in code\"\ntemplate_path = \"mail/otp.html\"\n",
    /// )
    /// .unwrap();
    /// let notifier = EmailNotifier::from_url("smtp://localhost:2525", "no-reply@example.com")
    ///     .unwrap()
    ///     .with_email_config(&settings.email_config)
    ///     .unwrap();
    /// ```
    pub fn with_email_config(self, config: &EmailConfig) -> Result<Self, EmailSetupError> {
        let mut this = self.with_subject_template(config.subject.clone())?;
        if let Some(path) = &config.template_path {
            this = this.with_html_template(read_template(path)?)?;
        }
        if let Some(path) = &config.text_template_path {
            this = this.with_text_template(read_template(path)?)?;
        }
        Ok(this)
    }

    fn with_template(
        mut self,
        name: &'static str,
        label: &'static str,
        source: String,
    ) -> Result<Self, EmailSetupError> {
        let invalid = |message: String| EmailSetupError::Template {
            template: label,
            message,
        };
        self.templates
            .add_template_owned(name, source)
            .map_err(|e| invalid(e.to_string()))?;
        let sample = User {
            id: "1".to_owned(),
            username: "ada".to_owned(),
            email: "ada@example.com".to_owned(),
            first_name: "Ada".to_owned(),
            last_name: "Lovelace".to_owned(),
            is_active: true,
            password_hash: String::new(),
        };
        let context = self.context(&Delivery {
            user: &sample,
            code: "123456",
            ttl: Duration::from_secs(300),
            issued_at: std::time::SystemTime::UNIX_EPOCH,
            extra_context: &serde_json::Map::new(),
        });
        let rendered = self.render(name, &context).map_err(invalid)?;
        if name == SUBJECT {
            check_subject(&rendered).map_err(|e| invalid(e.to_owned()))?;
        }
        Ok(self)
    }

    fn context(&self, delivery: &Delivery<'_>) -> Value {
        let user = delivery.user;
        let ours = minijinja::context! {
            token => delivery.code,
            first_name => &user.first_name,
            last_name => &user.last_name,
            full_name => user.full_name(),
            username => &user.username,
            email => &user.email,
            otp_ttl => delivery.ttl.as_secs(),
            otp_ttl_minutes => delivery.ttl.as_secs().div_ceil(60),
        };
        // The last map wins: the application's context may add variables but not replace the
        // code or the facts about it.
        merge_maps([Value::from_serialize(delivery.extra_context), ours])
    }

    fn render(&self, name: &str, context: &Value) -> Result<String, String> {
        self.templates
            .get_template(name)
            .and_then(|template| template.render(context))
            .map_err(|e| e.to_string())
    }

    fn build_message(&self, delivery: &Delivery<'_>) -> Result<Message, NotifyError> {
        let email = delivery.user.email.trim();
        if email.is_empty() {
            return Err(NotifyError::NoAddress);
        }
        let to: Address = email
            .parse()
            .map_err(|e| NotifyError::Message(format!("invalid recipient address: {e}")))?;
        let context = self.context(delivery);
        let render = |name: &str, label: &str| {
            self.render(name, &context)
                .map_err(|e| NotifyError::Message(format!("{label} template: {e}")))
        };
        let subject = render(SUBJECT, "subject")?;
        let subject = check_subject(&subject)
            .map_err(|e| NotifyError::Message(format!("subject template: {e}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                render(TEXT, "text")?,
                render(HTML, "html")?,
            ))
            .map_err(|e| NotifyError::Message(e.to_string()))
    }
}

impl Notifier for EmailNotifier {
    async fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), NotifyError> {
        let sent = async {
            let message = self.build_message(delivery)?;
            match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
                Ok(Ok(_response)) => Ok(()),
                Ok(Err(e)) => Err(NotifyError::Unavailable(e.to_string())),
                Err(_elapsed) => Err(NotifyError::Timeout(self.timeout)),
            }
        }
        .await
        // Third-party messages (a server's reply, a template error naming a value) could
        // quote the code: take it out before the error travels on to logs and responses.
        .map_err(|e| redact(e, delivery.code));
        #[cfg(feature = "tracing")]
        match &sent {
            Ok(()) => tracing::debug!(user_id = %delivery.user.id, "verification e-mail sent"),
            Err(error) => {
                tracing::debug!(user_id = %delivery.user.id, %error, "verification e-mail failed");
            }
        }
        sent
    }
}

/// The subject without surrounding whitespace, refused if a line break remains: a value
/// carrying CR/LF must not be able to add header lines.
fn check_subject(subject: &str) -> Result<&str, &'static str> {
    let subject = subject.trim();
    if subject.contains(['\r', '\n']) {
        Err("the subject contains a line break")
    } else {
        Ok(subject)
    }
}

fn read_template(path: &Path) -> Result<String, EmailSetupError> {
    std::fs::read_to_string(path).map_err(|source| EmailSetupError::Read {
        path: path.to_owned(),
        source,
    })
}

fn redact(error: NotifyError, code: &str) -> NotifyError {
    let scrub = |message: String| {
        if code.is_empty() {
            message
        } else {
            message.replace(code, "<code>")
        }
    };
    match error {
        NotifyError::Unavailable(m) => NotifyError::Unavailable(scrub(m)),
        NotifyError::Message(m) => NotifyError::Message(scrub(m)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier() -> EmailNotifier {
        EmailNotifier::from_url("smtp://127.0.0.1:1", "no-reply@example.com").unwrap()
    }

    #[tokio::test]
    async fn a_template_error_quoting_the_code_does_not_carry_it() {
        // minijinja names a missing template in its error: here, the code itself.
        let n = notifier()
            .with_text_template(r#"{% if token != "123456" %}{% include token %}{% endif %}"#)
            .unwrap();
        let user = User {
            id: "1".to_owned(),
            username: "ada".to_owned(),
            email: "ada@example.com".to_owned(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            password_hash: String::new(),
        };
        let delivery = Delivery {
            user: &user,
            code: "987654",
            ttl: Duration::from_secs(300),
            issued_at: std::time::SystemTime::UNIX_EPOCH,
            extra_context: &serde_json::Map::new(),
        };
        let unredacted = n.build_message(&delivery).unwrap_err().to_string();
        assert!(unredacted.contains("987654"), "{unredacted}");
        let err = n.deliver(&delivery).await.unwrap_err();
        assert!(matches!(err, NotifyError::Message(_)), "{err:?}");
        assert!(!err.to_string().contains("987654"), "{err}");
        assert!(err.to_string().contains("<code>"), "{err}");
    }

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(check_subject("  Code \n"), Ok("Code"));
        assert!(check_subject("Code\r\nBcc: x@example.com").is_err());
        assert!(check_subject("Code\nBcc: x@example.com").is_err());
    }
}
