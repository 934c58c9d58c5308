//! SMTP AUTH over real sockets: lettre and Python's smtplib log in right and
//! wrong, the scenario files behave as their comments say, and no password
//! reaches a transcript or a log line.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailfault::TestServer;

const WAIT: Duration = Duration::from_secs(10);

const ONE_USER: &str = r#"
version: 1
server:
  auth:
    mechanisms: [PLAIN, LOGIN, CRAM-MD5, XOAUTH2]
    users: [{ username: app, password: s3cret }]
"#;

async fn scenario(name: &str) -> TestServer {
    TestServer::with_scenario_file(common::scenario_file(name))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn lettre_with(
    server: &TestServer,
    user: &str,
    password: &str,
    mechanism: Mechanism,
) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.smtp_addr().port())
        .hello_name(ClientId::Domain("lettre.test".into()))
        .credentials(Credentials::new(user.into(), password.into()))
        .authentication(vec![mechanism])
        .timeout(Some(WAIT))
        .build()
}

fn email() -> Message {
    Message::builder()
        .from("app@example.test".parse().unwrap())
        .to("user@example.test".parse().unwrap())
        .subject("authenticated")
        .body(String::from("hello"))
        .unwrap()
}

#[tokio::test]
async fn lettre_plain_and_login_right_and_wrong() {
    let server = scenario("auth-required").await;
    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        let ok = lettre_with(&server, "app", "s3cret", mechanism)
            .send(email())
            .await;
        assert!(ok.is_ok(), "{mechanism:?}: {ok:?}");
        let err = lettre_with(&server, "app", "nope", mechanism)
            .send(email())
            .await
            .unwrap_err();
        assert!(err.is_permanent(), "{mechanism:?}: {err}");
        assert!(
            err.to_string().contains("credentials invalid"),
            "{mechanism:?}: {err}"
        );
    }
    let msgs = server.wait_for_messages(2, WAIT).await.unwrap();
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(m.auth_user.as_deref(), Some("app"));
        let received = &m.received_header;
        assert!(received.contains("with ESMTPA"), "{received}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_mail_is_refused_530_when_required() {
    let server = scenario("auth-required").await;
    let (mut c, _) = common::Raw::greeted(server.smtp_addr()).await;
    let ehlo = c.cmd("EHLO raw.test").await;
    assert!(
        ehlo.ends_with("250 AUTH PLAIN LOGIN CRAM-MD5\r\n"),
        "{ehlo}"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.test>").await,
        "530 5.7.0 Authentication required\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN AGFwcABzM2NyZXQ=").await,
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.test>").await,
        "250 2.1.0 Sender ok\r\n"
    );
    server.shutdown().await;
}

const SMTPLIB_LOGIN: &str = r#"
import smtplib, sys
port, user = int(sys.argv[1]), "app"
for password in ["s3cret", "wrong"]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("python.test")
        try:
            code, _ = s.login(user, password)
            print("login", code)
            s.sendmail("py@example.test", ["to@example.test"], "Subject: py\r\n\r\nbody\r\n")
        except smtplib.SMTPAuthenticationError as e:
            print("refused", e.smtp_code)
"#;

#[tokio::test]
async fn smtplib_login_picks_cram_md5_then_plain_then_login() {
    for (mechanisms, name) in [
        ("[PLAIN, LOGIN, CRAM-MD5]", "CRAM-MD5"),
        ("[LOGIN, PLAIN]", "PLAIN"),
        ("[LOGIN]", "LOGIN"),
    ] {
        let yaml = format!(
            "version: 1\nserver:\n  auth:\n    mechanisms: {mechanisms}\n    users: [{{ username: app, password: s3cret }}]\n"
        );
        let server = TestServer::with_scenario_str(&yaml).await.unwrap();
        let out = common::python(SMTPLIB_LOGIN, server.smtp_addr().port()).await;
        assert_eq!(out, "login 235\nrefused 535\n", "{name}");
        let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
        assert_eq!(msgs[0].auth_user.as_deref(), Some("app"));
        let sessions = server.wait_for_sessions(2, WAIT).await.unwrap();
        let transcript = sessions[0].transcript();
        assert!(
            transcript.contains(&format!("C: AUTH {name}")),
            "{name}: {transcript}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn smtplib_xoauth2_token_right_and_wrong() {
    let server = TestServer::with_scenario_str(ONE_USER).await.unwrap();
    let script = r#"
import smtplib, sys
for token in ["s3cret", "expired"]:
    with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
        s.ehlo("python.test")
        blob = "user=app\x01auth=Bearer " + token + "\x01\x01"
        try:
            code, _ = s.auth("XOAUTH2", lambda challenge=None: blob)
            print("auth", code)
        except smtplib.SMTPAuthenticationError as e:
            print("refused", e.smtp_code)
"#;
    let out = common::python(script, server.smtp_addr().port()).await;
    assert_eq!(out, "auth 235\nrefused 535\n");
    server.shutdown().await;
}

#[tokio::test]
async fn auth_flaky_fails_the_first_attempt_only() {
    let server = scenario("auth-flaky").await;
    let (mut c, _) = common::Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO raw.test").await;
    assert_eq!(
        c.cmd("AUTH PLAIN AGFwcABzM2NyZXQ=").await,
        "454 4.7.0 Temporary authentication failure\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.test>").await,
        "530 5.7.0 Authentication required\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN AGFwcABzM2NyZXQ=").await,
        "235 2.7.0 Authentication successful\r\n"
    );
    c.cmd("QUIT").await;
    let ok = lettre_with(&server, "app", "s3cret", Mechanism::Login)
        .send(email())
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let transcript = sessions[0].transcript();
    assert!(
        transcript.contains("[rule: auth backend hiccup]"),
        "{transcript}"
    );
    server.shutdown().await;
}

/// Everything the library logs, at every level, for the whole test binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn passwords_never_reach_transcripts_or_logs() {
    let logs = captured_logs();
    let password = "Pw-7f3a9c-Unique";
    let yaml = format!(
        "version: 1\nserver:\n  auth:\n    mechanisms: [PLAIN, LOGIN, XOAUTH2]\n    users: [{{ username: app, password: {password} }}]\n"
    );
    let server = TestServer::with_scenario_str(&yaml).await.unwrap();
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let plain = b64(&format!("\0app\0{password}"));
    let (mut c, _) = common::Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO raw.test").await;
    assert!(
        c.cmd(&format!("AUTH PLAIN {plain}"))
            .await
            .starts_with("235")
    );
    c.cmd("QUIT").await;
    let (mut c, _) = common::Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO raw.test").await;
    assert!(c.cmd("AUTH LOGIN").await.starts_with("334"));
    assert!(c.cmd(&b64("app")).await.starts_with("334"));
    assert!(c.cmd(&b64(password)).await.starts_with("235"));
    c.cmd("QUIT").await;
    let ok = lettre_with(&server, "app", password, Mechanism::Xoauth2)
        .send(email())
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let sessions = server.wait_for_sessions(3, WAIT).await.unwrap();
    let secrets = [password.to_owned(), plain.clone(), b64(password)];
    let transcripts: Vec<String> = sessions.iter().map(|s| s.transcript()).collect();
    let all = transcripts.join("\n");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "{secret} in transcript: {all}"
        );
        assert!(!logged.contains(secret.as_str()), "{secret} in logs");
    }
    assert!(all.contains("C: AUTH PLAIN ****"), "{all}");
    assert!(all.contains("C: ****"), "{all}");
    assert!(all.contains("C: AUTH XOAUTH2 ****"), "{all}");
    assert!(
        logged.contains("AUTH PLAIN ****"),
        "debug log missing: {logged}"
    );
    server.shutdown().await;
}

/// RFC 4954 §4 allows AUTH lines of 12,288 octets: a real client sending a
/// long OAuth bearer token (as Microsoft's and Google's are) authenticates.
#[tokio::test]
async fn a_long_oauth_token_authenticates_a_real_client() {
    let token: String = (0..7_000)
        .map(|i| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789-_"[i % 38]))
        .collect();
    let yaml = format!(
        "version: 1\nserver:\n  auth:\n    mechanisms: [XOAUTH2]\n    users: [{{ username: app, password: \"{token}\" }}]\n"
    );
    let server = TestServer::with_scenario_str(&yaml).await.unwrap();
    let ok = lettre_with(&server, "app", &token, Mechanism::Xoauth2)
        .send(email())
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let wrong = lettre_with(&server, "app", &token[1..], Mechanism::Xoauth2)
        .send(email())
        .await;
    assert!(wrong.is_err(), "a wrong token must fail");
    server.shutdown().await;
}
