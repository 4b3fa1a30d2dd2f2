//! Mail: templates, transports (SMTP, .eml files, log) and the outbox worker that delivers
//! queued mails with retries, so that a mail server outage loses no mail and fails no request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portal_db::DatabaseConnection;
use portal_db::mail::{NewMail, QueuedMail};
use tokio::sync::{Notify, watch};

use crate::config::MailTransportConfig;

/// Attempts before a mail is given up (and stays in the outbox with its last error).
pub const MAX_ATTEMPTS: i32 = 10;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A mail with a call to action: a greeting, paragraphs, one button (link), a closing note.
pub struct Template<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub greeting: &'a str,
    pub paragraphs: &'a [&'a str],
    pub action: &'a str,
    pub link: &'a str,
    pub footer: &'a str,
}

impl Template<'_> {
    pub fn render(&self) -> NewMail {
        let mut text = format!("{}\n\n", self.greeting);
        for p in self.paragraphs {
            text.push_str(p);
            text.push_str("\n\n");
        }
        text.push_str(&format!("{}:\n{}\n\n{}\n\n-- Partner Portal\n", self.action, self.link, self.footer));

        let paragraphs: String =
            self.paragraphs.iter().map(|p| format!("<p>{}</p>", escape_html(p))).collect::<Vec<_>>().join("\n");
        let html = format!(
            "<!doctype html>\n<html><body style=\"font-family:system-ui,sans-serif;color:#1f2937;max-width:560px\">\n\
             <p>{greeting}</p>\n{paragraphs}\n\
             <p><a href=\"{link}\" style=\"display:inline-block;background:#4f46e5;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none\">{action}</a></p>\n\
             <p style=\"font-size:13px;color:#6b7280\">If the button does not work, open this address: {link}</p>\n\
             <p style=\"font-size:13px;color:#6b7280\">{footer}</p>\n<p>&mdash; Partner Portal</p>\n</body></html>\n",
            greeting = escape_html(self.greeting),
            link = escape_html(self.link),
            action = escape_html(self.action),
            footer = escape_html(self.footer),
        );
        NewMail { recipient: self.to.to_owned(), subject: self.subject.to_owned(), text_body: text, html_body: html }
    }
}

/// Where mails go.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
    Log,
}

impl Transport {
    pub fn from_config(config: &MailTransportConfig) -> Result<Self, String> {
        Ok(match config {
            MailTransportConfig::Smtp(url) => Self::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| e.to_string())?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            MailTransportConfig::Files(dir) => Self::Files(dir.clone()),
            MailTransportConfig::Log => Self::Log,
        })
    }

    async fn send(&self, message: Message, mail: &QueuedMail) -> Result<(), String> {
        let id = mail.id;
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Self::Files(dir) => {
                // Written under a temporary name and renamed, so a reader never sees half a mail.
                let name = format!("{}-{id}.eml", Utc::now().format("%Y%m%dT%H%M%S%.6fZ"));
                let tmp = dir.join(format!(".{name}.tmp"));
                write_private(&tmp, message.formatted()).await.map_err(|e| e.to_string())?;
                tokio::fs::rename(&tmp, dir.join(&name)).await.map_err(|e| e.to_string())?;
                tracing::info!(to = %mail.recipient, subject = %mail.subject, file = %dir.join(&name).display(), "mail written");
                Ok(())
            }
            Self::Log => {
                // Logs are read by more people than mailboxes: the links' tokens stay out.
                tracing::info!(to = %mail.recipient, subject = %mail.subject, text = %redact_links(&mail.text_body), "mail");
                Ok(())
            }
        }
    }
}

/// `text` with the query of every link cut (`…/verify-email?[redacted]`): mailed links carry
/// tokens that sign in, reset a password or join a team.
fn redact_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        match word.split_once('?') {
            Some((base, _)) if base.contains("://") => {
                out.push_str(base);
                out.push_str("?[redacted]");
                out.push_str(&piece[word.len()..]);
            }
            _ => out.push_str(piece),
        }
    }
    out
}

/// Writes a file only its owner can read: mails hold live links.
async fn write_private(path: &std::path::Path, contents: Vec<u8>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).await?;
    file.write_all(&contents).await?;
    file.flush().await
}

fn build_message(from: &Mailbox, mail: &QueuedMail) -> Result<Message, String> {
    let to: Mailbox = mail.recipient.parse().map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&mail.subject)
        .multipart(MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone()))
        .map_err(|e| e.to_string())
}

/// Delivers the outbox in the background; `wake` after queuing a mail to send it at once.
pub struct MailWorker {
    pub wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl MailWorker {
    pub fn start(db: DatabaseConnection, transport: Transport, from: Mailbox) -> Self {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(run(db, transport, from, wake.clone(), stopped));
        Self { wake, stop, handle }
    }

    /// Lets the current delivery finish, then stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

fn backoff(attempts: i32) -> chrono::Duration {
    let secs = 5i64.saturating_mul(1 << attempts.clamp(0, 10)).min(3600);
    chrono::Duration::seconds(secs)
}

async fn run(
    db: DatabaseConnection,
    transport: Transport,
    from: Mailbox,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = deliver_due(&db, &transport, &from).await {
            tracing::warn!(error = %e, "mail outbox: cannot read the queue; retrying");
        }
        let wait = match portal_db::mail::next_due(&db, MAX_ATTEMPTS).await {
            Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(Duration::from_secs(30)),
            _ => Duration::from_secs(30),
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

async fn deliver_due(db: &DatabaseConnection, transport: &Transport, from: &Mailbox) -> Result<(), portal_db::Error> {
    loop {
        let now = Utc::now();
        let batch = portal_db::mail::claim_due(db, now, now + chrono::Duration::minutes(2), MAX_ATTEMPTS, 20).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for mail in batch {
            let result = match build_message(from, &mail) {
                Ok(message) => transport.send(message, &mail).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => portal_db::mail::mark_sent(db, mail.id, Utc::now()).await?,
                Err(error) => {
                    let retry_at = Utc::now() + backoff(mail.attempts);
                    tracing::warn!(mail_id = %mail.id, attempt = mail.attempts + 1, %error, %retry_at, "mail not delivered; will retry");
                    let last = mail.attempts + 1 >= MAX_ATTEMPTS;
                    portal_db::mail::mark_failed(db, mail.id, &error, retry_at, last).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_mails_keep_no_token() {
        let text = "Open this address:\nhttp://x/verify-email?token=abc\nor https://y/invite?token=def&x=1 now.\n";
        let logged = redact_links(text);
        assert_eq!(
            logged,
            "Open this address:\nhttp://x/verify-email?[redacted]\nor https://y/invite?[redacted] now.\n"
        );
        assert!(!logged.contains("abc") && !logged.contains("def"));
        assert_eq!(redact_links("no links? none"), "no links? none");
    }

    #[test]
    fn html_is_escaped_and_text_keeps_the_link_on_its_own_line() {
        let mail = Template {
            to: "a@example.com",
            subject: "Hi",
            greeting: "Hi <b>Eve</b>,",
            paragraphs: &["Tom & Jerry"],
            action: "Open",
            link: "http://x/verify-email?token=abc",
            footer: "Ignore if not you.",
        }
        .render();
        assert!(mail.html_body.contains("Hi &lt;b&gt;Eve&lt;/b&gt;,"));
        assert!(mail.html_body.contains("Tom &amp; Jerry"));
        assert!(!mail.html_body.contains("<b>Eve"));
        assert!(mail.text_body.contains("\nhttp://x/verify-email?token=abc\n"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0).num_seconds(), 5);
        assert_eq!(backoff(1).num_seconds(), 10);
        assert_eq!(backoff(20).num_seconds(), 3600);
    }
}
