//! Real SMTP clients against the server: lettre (Rust) and Python's smtplib.

use crate::common;

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailfault::TestServer;

const WAIT: Duration = Duration::from_secs(10);

fn lettre_to(server: &TestServer) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.smtp_addr().port())
        .hello_name(ClientId::Domain("lettre.test".into()))
        .timeout(Some(WAIT))
        .build()
}

#[tokio::test]
async fn lettre_delivers_and_we_capture_envelope_and_content() {
    let server = TestServer::start().await.unwrap();
    let mailer = lettre_to(&server);
    let email = Message::builder()
        .from("App <app@example.test>".parse().unwrap())
        .to("user@example.test".parse().unwrap())
        .cc("other@example.test".parse().unwrap())
        .subject("Invoice 42")
        .header(ContentType::TEXT_PLAIN)
        .body(String::from(
            "Hello from lettre.\n.\nA lone dot above must survive.",
        ))
        .unwrap();
    let response = mailer.send(email).await.unwrap();
    assert_eq!(response.code().to_string(), "250");
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    let m = &msgs[0];
    assert_eq!(m.mail_from, "app@example.test");
    let rcpts: Vec<&str> = m.recipients.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(rcpts, ["user@example.test", "other@example.test"]);
    assert_eq!(m.header("Subject").as_deref(), Some("Invoice 42"));
    let text = String::from_utf8_lossy(&m.content);
    assert!(
        text.contains("\r\n.\r\nA lone dot above must survive."),
        "{text}"
    );
    assert_eq!(m.helo.as_deref(), Some("lettre.test"));
    server.shutdown().await;
}

#[tokio::test]
async fn lettre_sees_a_scenario_rejection_as_permanent() {
    let yaml = r#"
version: 1
rules:
  - name: unknown user
    on: rcpt
    match: { to: "*@nowhere.example.test" }
    reply: 550 5.1.1 The email account that you tried to reach does not exist
"#;
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let mailer = lettre_to(&server);
    let email = Message::builder()
        .from("app@example.test".parse().unwrap())
        .to("ghost@nowhere.example.test".parse().unwrap())
        .subject("x")
        .body(String::from("x"))
        .unwrap();
    let err = mailer.send(email).await.unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(server.messages().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn python_smtplib_sends_utf8_and_8bit_mail() {
    let server = TestServer::start().await.unwrap();
    let script = r#"
import smtplib, sys
from email.message import EmailMessage
msg = EmailMessage()
msg["From"] = "sender@example.test"
msg["To"] = "jörg@example.test"
msg["Subject"] = "Grüße"
msg.set_content("Größe: 8bit body\n.\n..two dots\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.ehlo("python.test")
    print(s.has_extn("smtputf8"), s.has_extn("8bitmime"), s.has_extn("size"))
    refused = s.send_message(msg)
    print("refused", refused)
"#;
    let out = common::python(script, server.smtp_addr().port()).await;
    assert_eq!(out, "True True True\nrefused {}\n");
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    let m = &msgs[0];
    assert_eq!(m.recipients[0].address, "jörg@example.test");
    assert!(m.mail_params.contains("SMTPUTF8"), "{}", m.mail_params);
    let text = String::from_utf8_lossy(&m.content);
    assert!(text.contains("\r\n.\r\n..two dots\r\n"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn python_smtplib_gets_the_scenario_error_codes() {
    let yaml = r#"
version: 1
rules:
  - on: rcpt
    match: { to: "full@*" }
    reply: 552 5.2.2 The email account that you tried to reach is over quota
"#;
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    try:
        s.sendmail("a@example.test", ["full@example.test", "ok@example.test"], "Subject: q\r\n\r\nbody\r\n")
        print("sent with refusals")
    except smtplib.SMTPRecipientsRefused as e:
        print("all refused", e.recipients)
    code, msg = s.noop()
    print(code)
"#;
    let out = common::python(script, server.smtp_addr().port()).await;
    assert_eq!(out, "sent with refusals\n250\n");
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    let rcpts: Vec<&str> = msgs[0]
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(rcpts, ["ok@example.test"]);
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    assert!(sessions[0].transcript().contains(
        "S: 552 5.2.2 The email account that you tried to reach is over quota  [rule: rule 1]"
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn twenty_parallel_clients_lose_nothing() {
    let server = TestServer::start().await.unwrap();
    let addr = server.smtp_addr();
    let mut tasks = Vec::new();
    for client in 0..20 {
        tasks.push(tokio::spawn(async move {
            let (mut c, _) = common::Raw::greeted(addr).await;
            c.cmd("EHLO load").await;
            for n in 0..25 {
                c.cmd(&format!("MAIL FROM:<c{client}@x.test>")).await;
                c.cmd("RCPT TO:<sink@x.test>").await;
                c.cmd("DATA").await;
                c.send(format!("Subject: {client}-{n}\r\n\r\nbody\r\n").as_bytes())
                    .await;
                let r = c.cmd(".").await;
                assert!(r.starts_with("250 2.0.0"), "{r}");
            }
            c.cmd("QUIT").await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let msgs = server.wait_for_messages(500, WAIT).await.unwrap();
    assert_eq!(msgs.len(), 500, "every 250 is a stored message");
    let mut subjects: Vec<String> = msgs.iter().filter_map(|m| m.header("Subject")).collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 500);
    server.shutdown().await;
}
