//! TLS over real sockets: lettre and smtplib verify the generated CA over
//! STARTTLS and implicit TLS, plaintext pipelined behind STARTTLS is thrown
//! away, and the TLS facts reach the transcript and the captured message.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::python;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailfault::{Scenario, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

async fn tls_server(dir: &tempfile::TempDir) -> TestServer {
    TestServer::with_tls(Scenario::accept_all(), dir.path())
        .await
        .unwrap()
}

fn params(server: &TestServer) -> TlsParameters {
    let ca = std::fs::read(server.ca_path().unwrap()).unwrap();
    TlsParameters::builder("localhost".into())
        .add_root_certificate(Certificate::from_pem(&ca).unwrap())
        .build_rustls()
        .unwrap()
}

fn email(subject: &str) -> Message {
    Message::builder()
        .from("app@example.test".parse().unwrap())
        .to("user@example.test".parse().unwrap())
        .subject(subject)
        .body(String::from("over TLS"))
        .unwrap()
}

#[tokio::test]
async fn lettre_starttls_and_implicit_tls_trusting_the_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(&dir).await;
    let starttls = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.smtp_addr().port())
        .tls(Tls::Required(params(&server)))
        .timeout(Some(WAIT))
        .build();
    starttls.send(email("starttls")).await.unwrap();
    let smtps_port = server.smtps_addr().unwrap().port();
    let implicit = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtps_port)
        .tls(Tls::Wrapper(params(&server)))
        .timeout(Some(WAIT))
        .build();
    implicit.send(email("implicit")).await.unwrap();
    let msgs = server.wait_for_messages(2, WAIT).await.unwrap();
    for m in &msgs {
        let tls = m.tls.as_deref().unwrap_or("none");
        assert!(tls.starts_with("TLSv1.3 TLS13_"), "{tls}");
    }
    let sessions = server.wait_for_sessions(2, WAIT).await.unwrap();
    let text = sessions[0].transcript();
    assert!(text.contains("-- TLS established: TLSv1.3"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn smtplib_starttls_with_a_verifying_context() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(&dir).await;
    let script = format!(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile={ca:?})
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.ehlo("python.test")
    print("offered", s.has_extn("starttls"))
    s.starttls(context=ctx)
    s.ehlo("python.test")
    print("offered after", s.has_extn("starttls"))
    print(s.sock.version())
    s.sendmail("a@example.test", ["b@example.test"], "Subject: tls\r\n\r\nhi\r\n")
    print("sent")
"#,
        ca = server.ca_path().unwrap().display().to_string()
    );
    let out = python(&script, server.smtp_addr().port()).await;
    assert_eq!(out, "offered True\noffered after False\nTLSv1.3\nsent\n");
    server.shutdown().await;
}

#[tokio::test]
async fn plaintext_pipelined_after_starttls_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(&dir).await;
    let mut tcp = tokio::net::TcpStream::connect(server.smtp_addr())
        .await
        .unwrap();
    let mut greeting = [0u8; 512];
    let _ = tcp.read(&mut greeting).await.unwrap();
    tcp.write_all(b"EHLO c\r\n").await.unwrap();
    let mut ehlo = Vec::new();
    while !ehlo.ends_with(b"250 STARTTLS\r\n") {
        let mut chunk = [0u8; 512];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        ehlo.extend_from_slice(&chunk[..n]);
    }
    // The injected MAIL rides in the same packet as STARTTLS.
    tcp.write_all(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        .await
        .unwrap();
    let mut ready = Vec::new();
    while !ready.ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(WAIT, tcp.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        ready.push(byte[0]);
    }
    assert_eq!(ready, b"220 2.0.0 Ready to start TLS\r\n");

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(server.ca_path().unwrap()).unwrap();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"RCPT TO:<x@example.test>\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(WAIT, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        &buf[..n],
        b"503 5.5.1 Need MAIL command first\r\n",
        "the injected MAIL never ran"
    );
    tls.write_all(b"QUIT\r\n").await.unwrap();
    let _ = tokio::time::timeout(WAIT, tls.read(&mut buf)).await;
    drop(tls);
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let text = sessions[0].transcript();
    assert!(
        text.contains("-- discarded 32 byte(s) pipelined after STARTTLS"),
        "{text}"
    );
    assert!(!text.contains("injected@evil.test"), "{text}");
    server.shutdown().await;
}

async fn scenario_with_tls(name: &str, dir: &tempfile::TempDir) -> TestServer {
    let scenario = Scenario::from_file(&common::scenario_file(name)).unwrap();
    TestServer::with_tls(scenario, dir.path()).await.unwrap()
}

#[tokio::test]
async fn tls_required_refuses_mail_until_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let server = scenario_with_tls("tls-required", &dir).await;
    let (mut c, _) = common::Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.test>").await,
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    // smtplib with STARTTLS gets through.
    let script = format!(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile={ca:?})
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.starttls(context=ctx)
    s.sendmail("a@example.test", ["b@example.test"], "Subject: tls\r\n\r\nhi\r\n")
    print("sent")
"#,
        ca = server.ca_path().unwrap().display().to_string()
    );
    assert_eq!(python(&script, server.smtp_addr().port()).await, "sent\n");
    server.shutdown().await;
}

#[tokio::test]
async fn starttls_broken_answers_454_and_smtplib_can_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = scenario_with_tls("starttls-broken", &dir).await;
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.ehlo("python.test")
    print("offered", s.has_extn("starttls"))
    try:
        s.starttls()
    except smtplib.SMTPResponseException as e:
        print("refused", e.smtp_code, e.smtp_error.decode())
    s.sendmail("a@example.test", ["b@example.test"], "Subject: plain\r\n\r\nhi\r\n")
    print("sent in plaintext")
"#;
    let out = python(script, server.smtp_addr().port()).await;
    assert_eq!(
        out,
        "offered True\nrefused 454 4.7.0 TLS not available due to temporary reason\nsent in plaintext\n"
    );
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(msgs[0].tls, None);
    server.shutdown().await;
}

#[tokio::test]
async fn auth_over_starttls_is_recorded_as_esmtpsa() {
    let dir = tempfile::tempdir().unwrap();
    let server = scenario_with_tls("auth-required", &dir).await;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.smtp_addr().port())
        .tls(Tls::Required(params(&server)))
        .credentials(lettre::transport::smtp::authentication::Credentials::new(
            "app".into(),
            "s3cret".into(),
        ))
        .timeout(Some(WAIT))
        .build();
    mailer.send(email("authenticated over TLS")).await.unwrap();
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(msgs[0].auth_user.as_deref(), Some("app"));
    assert!(msgs[0].tls.is_some());
    assert!(
        msgs[0].received_header.contains("with ESMTPSA"),
        "{}",
        msgs[0].received_header
    );
    server.shutdown().await;
}

/// What a verifying smtplib client makes of the STARTTLS handshake.
const VERIFYING_STARTTLS: &str = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
if len(sys.argv) > 3:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
try:
    with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
        s.starttls(context=ctx)
        print("upgraded", s.sock.version())
except ssl.SSLCertVerificationError as e:
    print("refused:", e.verify_message)
except ssl.SSLError as e:
    print("tls error:", e.reason)
except smtplib.SMTPServerDisconnected:
    print("disconnected")
"#;

async fn verify_with_fault(fault: &str, tls13_only: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("version: 1\nrules:\n  - {{ on: starttls, tls_fault: {fault} }}\n");
    let scenario = Scenario::from_str(&yaml, "<test>").unwrap();
    let server = TestServer::with_tls(scenario, dir.path()).await.unwrap();
    let ca = server.ca_path().unwrap().display().to_string();
    let mut args = vec![server.smtp_addr().port().to_string(), ca];
    if tls13_only {
        args.push("tls13".into());
    }
    let out = common::python_args(VERIFYING_STARTTLS, &args).await;
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let text = sessions[0].transcript();
    assert!(text.contains("TLS fault: "), "{text}");
    server.shutdown().await;
    out
}

#[tokio::test]
async fn verifying_clients_refuse_each_certificate_fault() {
    assert_eq!(
        verify_with_fault("self_signed", false).await,
        "refused: self-signed certificate\n"
    );
    assert_eq!(
        verify_with_fault("expired_cert", false).await,
        "refused: certificate has expired\n"
    );
    let wrong = verify_with_fault("wrong_host_cert", false).await;
    assert!(wrong.starts_with("refused: IP address mismatch"), "{wrong}");
    assert_eq!(
        verify_with_fault("tls12_only", false).await,
        "upgraded TLSv1.2\n",
        "a client that accepts TLS 1.2 gets through"
    );
    let strict = verify_with_fault("tls12_only", true).await;
    assert!(strict.starts_with("tls error:"), "{strict}");
    assert_eq!(
        verify_with_fault("abort_handshake", false).await,
        "tls error: UNEXPECTED_EOF_WHILE_READING\n",
        "220, then the connection closes under the handshake"
    );
}

#[tokio::test]
async fn bad_certificate_scenario_is_refused_by_lettre() {
    let dir = tempfile::tempdir().unwrap();
    let server = scenario_with_tls("bad-certificate", &dir).await;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.smtp_addr().port())
        .tls(Tls::Required(params(&server)))
        .timeout(Some(WAIT))
        .build();
    let err = mailer.send(email("must not arrive")).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(server.messages().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn auth_require_tls_answers_538_until_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "version: 1\nserver:\n  auth: { require_tls: true, users: [{ username: app, password: s3cret }] }\n";
    let scenario = Scenario::from_str(yaml, "<test>").unwrap();
    let server = TestServer::with_tls(scenario, dir.path()).await.unwrap();
    let script = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.ehlo("python.test")
    code, text = s.docmd("AUTH", "PLAIN AGFwcABzM2NyZXQ=")
    print(code, text.decode())
    s.starttls(context=ctx)
    s.ehlo("python.test")
    print(s.login("app", "s3cret")[0])
"#;
    let ca = server.ca_path().unwrap().display().to_string();
    let out = common::python_args(script, &[server.smtp_addr().port().to_string(), ca]).await;
    assert_eq!(
        out,
        "538 5.7.11 Encryption required for requested authentication mechanism\n235\n"
    );
    server.shutdown().await;
}
