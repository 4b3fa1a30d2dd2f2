//! Mail through a real SMTP server process (Python's aiosmtpd, writing a Maildir).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_smtp(port: u16) -> SmtpServer {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with aiosmtpd (make test installs it)");
    let server = SmtpServer { child, maildir, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "the SMTP server did not start listening");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server
}

fn smtp_app_options(port: u16) -> Options {
    let mut options = Options::default();
    options.flags.extend(["--mail-url".to_owned(), format!("smtp://127.0.0.1:{port}")]);
    options
}

#[tokio::test]
async fn verification_mail_is_delivered_over_smtp_with_text_and_html() {
    let port = free_port();
    let smtp = start_smtp(port).await;
    let app = spawn_app_with(smtp_app_options(port)).await;
    let res = app.signup("smtp@example.com", "Sam <b>Smith</b>", PASSWORD).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);

    let mail = wait_for_mail_in(&smtp.maildir.join("new"), "smtp@example.com", "Verify your e-mail address").await;
    assert!(mail.raw.contains("multipart/alternative"), "{}", mail.raw);
    assert!(mail.raw.contains("text/plain") && mail.raw.contains("text/html"), "{}", mail.raw);
    assert!(mail.decoded.contains("Sam &lt;b&gt;Smith&lt;/b&gt;"), "the name is escaped in HTML: {}", mail.decoded);
    let from = mail.raw.lines().find(|l| l.starts_with("From: ")).unwrap_or("");
    assert!(from.contains("Partner Portal") && from.contains("<no-reply@partner-portal.local>"), "{from}");

    let token = mail.token("/verify-email?token=");
    let res = app.post(&app.client, "/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn mail_queued_during_an_smtp_outage_is_retried_and_delivered() {
    let port = free_port();
    let app = spawn_app_with(smtp_app_options(port)).await;
    // No SMTP server yet: the request still succeeds, the mail waits in the outbox.
    let res = app.signup("later@example.com", "Later", PASSWORD).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);

    let db = portal_db::connect(&app.database_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending = portal_db::mail::pending(&db).await.unwrap();
        assert_eq!(pending.len(), 1);
        if pending[0].attempts >= 1 {
            assert!(pending[0].last_error.is_some(), "the failure is recorded");
            break;
        }
        assert!(Instant::now() < deadline, "the worker never tried to send");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    db.close().await.ok();

    let smtp = start_smtp(port).await;
    let mail = wait_for_mail_in(&smtp.maildir.join("new"), "later@example.com", "Verify your e-mail address").await;
    assert!(mail.decoded.contains("/verify-email?token="));
}
