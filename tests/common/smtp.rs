//! A real SMTP server on loopback for the e-mail tests: the SMTP state machine of the `mailin`
//! crate (the engine of `mailin-embedded`) driven over a tokio `TcpListener`. It keeps every
//! message it accepts, and refuses the recipient `unknown@example.com` (550).
//!
//! `mailin-embedded` itself serves on a blocking thread pool that never stops and pulls in a
//! second TLS stack; driving its engine here takes a few lines and ends with the test's runtime.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mailin::{response, Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The recipient the server refuses.
pub const REFUSED_RECIPIENT: &str = "unknown@example.com";

/// One accepted message, as the SMTP envelope and the raw data.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM`.
    pub mail_from: String,
    /// Every `RCPT TO`.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed.
    pub data: Vec<u8>,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// The running server; it stops when dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    inbox: Inbox,
    task: JoinHandle<()>,
}

impl SmtpServer {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inbox = Inbox::default();
        let task = tokio::spawn({
            let inbox = inbox.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let inbox = inbox.clone();
                    tokio::spawn(async move {
                        // A client hanging up mid-session is its business.
                        let _ = serve(stream, inbox).await;
                    });
                }
            }
        });
        Self { addr, inbox, task }
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message accepted so far. The server has stored a message before it answers
    /// the end of its data, so a send that succeeded is already here.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, inbox: Inbox) -> io::Result<()> {
    let peer = stream.peer_addr()?.ip();
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut session = SessionBuilder::new("smtp.test").build(peer, Collector::new(inbox));
    writer.write_all(&session.greeting().buffer()?).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            Action::NoReply => {}
            Action::Reply => writer.write_all(&response.buffer()?).await?,
            Action::Close | Action::UpgradeTls => {
                writer.write_all(&response.buffer()?).await?;
                return Ok(());
            }
        }
    }
}

struct Collector {
    inbox: Inbox,
    current: Received,
}

impl Collector {
    fn new(inbox: Inbox) -> Self {
        Self {
            inbox,
            current: Received {
                mail_from: String::new(),
                rcpt_to: Vec::new(),
                data: Vec::new(),
            },
        }
    }
}

impl Handler for Collector {
    fn rcpt(&mut self, to: &str) -> Response {
        if to == REFUSED_RECIPIENT {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current.mail_from = from.to_owned();
        self.current.rcpt_to = to.to_vec();
        self.current.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.lock().unwrap().push(self.current.clone());
        response::OK
    }
}
