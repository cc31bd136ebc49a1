use std::io::Write;
use std::sync::{Arc, Mutex};

use super::notifier::{Delivery, Notifier, NotifyError};

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Prints each code to stdout, clearly marked: for development only (the code is the second
/// factor, and anyone who can read the console can log in as anyone whose password they know).
///
/// ```
/// let notifier = tower_otp::notify::ConsoleNotifier::new();
/// ```
#[derive(Clone)]
pub struct ConsoleNotifier {
    sink: Sink,
}

impl std::fmt::Debug for ConsoleNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleNotifier").finish_non_exhaustive()
    }
}

impl Default for ConsoleNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleNotifier {
    /// Prints to stdout.
    pub fn new() -> Self {
        Self::with_writer(std::io::stdout())
    }

    /// Prints to `writer` instead (e.g. a buffer in tests).
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            sink: Arc::new(Mutex::new(Box::new(writer))),
        }
    }
}

impl Notifier for ConsoleNotifier {
    async fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), NotifyError> {
        let user = delivery.user;
        let to = if user.email.is_empty() {
            user.username.as_str()
        } else {
            user.email.as_str()
        };
        let message = format!(
            "==== tower-otp ConsoleNotifier (development only) ====\n\
             to: {to}\n\
             Hello {name},\n\
             your verification code is {code}; it expires in {secs} seconds.\n\
             ======================================================\n",
            name = if user.first_name.is_empty() {
                &user.username
            } else {
                &user.first_name
            },
            code = delivery.code,
            secs = delivery.ttl.as_secs(),
        );
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.write_all(message.as_bytes())
            .and_then(|()| sink.flush())
            .map_err(|e| NotifyError::Unavailable(e.to_string()))
    }
}
