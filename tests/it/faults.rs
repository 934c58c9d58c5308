//! Stateful and wire faults over real sockets: greylisting and rate limits
//! driven by the virtual clock, broken replies read byte for byte, and a
//! connection cut inside the message.

use crate::common;

use std::time::{Duration, Instant};

use common::{Raw, python, scenario_file, send_message};
use mailfault::scenario::ClockMode;
use mailfault::{Scenario, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// Loads a ready-made scenario and switches it to the virtual clock.
async fn with_virtual_clock(name: &str) -> TestServer {
    let mut scenario = Scenario::from_file(&scenario_file(name)).unwrap();
    scenario.set_clock(ClockMode::Virtual);
    TestServer::with_scenario(scenario).await.unwrap()
}

/// One delivery attempt with smtplib; prints `sent`, or `deferred CODE`
/// when the recipient was refused with a 4xx (what a retry queue acts on).
const SMTPLIB_ATTEMPT: &str = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    try:
        s.sendmail("app@example.test", ["user@example.test"], "Subject: hi\r\n\r\nhello\r\n")
        print("sent")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["user@example.test"]
        print("deferred" if 400 <= code < 500 else "refused", code, text.decode())
"#;

#[tokio::test]
async fn smtplib_retry_after_the_greylist_window_gets_through() {
    let server = with_virtual_clock("greylist").await;
    let port = server.smtp_addr().port();
    let attempt = || python(SMTPLIB_ATTEMPT, port);
    assert_eq!(
        attempt().await,
        "deferred 450 4.2.0 Greylisted, please try again later\n"
    );
    server.advance_clock(Duration::from_secs(10)).unwrap();
    assert!(
        attempt().await.starts_with("deferred 450"),
        "a retry after 10 s is too early"
    );
    server.advance_clock(Duration::from_secs(20)).unwrap();
    assert_eq!(attempt().await, "sent\n", "30 s after the first sight");
    server.advance_clock(Duration::from_secs(3 * 3600)).unwrap();
    assert_eq!(attempt().await, "sent\n", "stays allowed while in use");
    server
        .advance_clock(Duration::from_secs(4 * 3600 + 1))
        .unwrap();
    assert!(
        attempt().await.starts_with("deferred 450"),
        "forgotten after 4 h of silence"
    );
    assert_eq!(server.messages().len(), 2);
    let before = server.advance_clock(Duration::ZERO).unwrap();
    let too_far = server.advance_clock(Duration::MAX).unwrap_err().to_string();
    assert!(too_far.contains("at most"), "{too_far}");
    assert_eq!(server.advance_clock(Duration::ZERO).unwrap(), before);
    server.shutdown().await;
}

#[tokio::test]
async fn greylist_keys_are_per_triplet_and_real_clock_cannot_be_moved() {
    let server = with_virtual_clock("greylist").await;
    let addr = server.smtp_addr();
    let (mut c, _) = Raw::greeted(addr).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@example.test>").await;
    assert!(
        c.cmd("RCPT TO:<one@example.test>")
            .await
            .starts_with("450 4.2.0")
    );
    assert!(
        c.cmd("RCPT TO:<two@example.test>")
            .await
            .starts_with("450 4.2.0")
    );
    server.advance_clock(Duration::from_secs(30)).unwrap();
    assert!(c.cmd("RCPT TO:<one@example.test>").await.starts_with("250"));
    assert!(
        c.cmd("RCPT TO:<three@example.test>")
            .await
            .starts_with("450")
    );
    c.cmd("QUIT").await;
    server.shutdown().await;

    let real = TestServer::with_scenario_file(scenario_file("greylist"))
        .await
        .unwrap();
    let err = real.advance_clock(Duration::from_secs(1)).unwrap_err();
    assert!(err.to_string().contains("clock: virtual"), "{err}");
    real.shutdown().await;
}

#[tokio::test]
async fn message_rate_trips_exactly_at_the_limit_and_resets_with_the_window() {
    let server = with_virtual_clock("rate-limit").await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    let mut mail_replies = Vec::new();
    for _ in 0..6 {
        let r = c.cmd("MAIL FROM:<a@example.test>").await;
        mail_replies.push(r[..3].to_owned());
        if r.starts_with("250") {
            c.cmd("RSET").await;
        }
    }
    assert_eq!(mail_replies, ["250", "250", "250", "250", "250", "451"]);
    let r = c.cmd("MAIL FROM:<a@example.test>").await;
    assert_eq!(
        r,
        "451 4.7.1 Message rate limit exceeded, please slow down\r\n"
    );
    server.advance_clock(Duration::from_secs(59)).unwrap();
    assert!(c.cmd("MAIL FROM:<a@example.test>").await.starts_with("451"));
    server.advance_clock(Duration::from_secs(1)).unwrap();
    // The window slid past the burst at 0 s; the refused try at 59 s counts.
    for want in ["250", "250", "250", "250", "451"] {
        let r = c.cmd("MAIL FROM:<a@example.test>").await;
        assert!(r.starts_with(want), "wanted {want}, got {r}");
        if r.starts_with("250") {
            c.cmd("RSET").await;
        }
    }
    c.cmd("QUIT").await;
    server.shutdown().await;
}

#[tokio::test]
async fn third_concurrent_connection_gets_421_and_a_slot_frees_on_close() {
    let server = TestServer::with_scenario_file(scenario_file("rate-limit"))
        .await
        .unwrap();
    let addr = server.smtp_addr();
    let (mut a, ga) = Raw::greeted(addr).await;
    let (_b, gb) = Raw::greeted(addr).await;
    assert!(ga.starts_with("220") && gb.starts_with("220"));
    let (mut c, gc) = Raw::greeted(addr).await;
    assert_eq!(
        gc,
        "421 4.7.0 Too many concurrent SMTP connections from this IP, try again later\r\n"
    );
    assert_eq!(c.until_closed().await, "");
    a.cmd("QUIT").await;
    a.until_closed().await;
    // The closed sessions release their slots; allow the server a moment.
    let deadline = Instant::now() + WAIT;
    loop {
        let (mut d, g) = Raw::greeted(addr).await;
        if g.starts_with("220") {
            d.cmd("QUIT").await;
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed: {g}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

/// Opens a transaction and offers `rcpt`; the reply is left unread.
async fn offer(addr: std::net::SocketAddr, rcpt: &str) -> Raw {
    let (mut c, _) = Raw::greeted(addr).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@example.test>").await;
    c.send(format!("RCPT TO:<{rcpt}>\r\n").as_bytes()).await;
    c
}

/// On tokio's paused clock: the drip's pauses and the wait for a last line
/// that never comes cost no real time.
#[tokio::test(start_paused = true)]
async fn malformed_replies_byte_for_byte() {
    let server = TestServer::with_scenario_file(scenario_file("malformed-replies"))
        .await
        .unwrap();
    let addr = server.smtp_addr();

    let mut c = offer(addr, "bare-lf@example.test").await;
    let (got, _) = c.raw_until(|b| b.ends_with(b"LF only\n")).await;
    assert_eq!(
        got,
        b"250-2.1.5 Recipient ok\n250 2.1.5 lines end in LF only\n"
    );

    let mut c = offer(addr, "truncated@example.test").await;
    let (got, _) = c.raw_until(|b| b.ends_with(b"\r\n")).await;
    assert_eq!(got, b"250-2.1.5 Recipient ok\r\n");
    assert_eq!(
        c.raw_within(Duration::from_millis(300)).await,
        b"",
        "the last line never comes"
    );
    // The session goes on as if the reply had been whole.
    c.send(b"NOOP\r\n").await;
    let (got, _) = c.raw_until(|b| b.ends_with(b"\r\n")).await;
    assert_eq!(got, b"250 2.0.0 Ok\r\n");

    let mut c = offer(addr, "bad-code@example.test").await;
    let (got, _) = c.raw_until(|b| b.ends_with(b"\r\n")).await;
    assert_eq!(got, b"2xx 2.1.5 Recipient ok\r\n");

    let mut c = offer(addr, "split@example.test").await;
    let want: &[u8] = b"250 2.1.5 Recipient ok, in fragments\r\n";
    let (got, reads) = c.raw_until(|b| b.len() >= want.len()).await;
    assert_eq!(got, want);
    assert!(reads >= 3, "arrived in {reads} read(s); expected fragments");

    let mut c = offer(addr, "slow@example.test").await;
    let started = tokio::time::Instant::now();
    let want: &[u8] = b"250 2.1.5 Recipient ok, slowly\r\n";
    let (got, reads) = c.raw_until(|b| b.len() >= want.len()).await;
    assert_eq!(got, want);
    assert!(reads >= 3, "dripped, not sent at once ({reads} reads)");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "32 bytes at 20 B/s take at least 1.5 s; took {:?}",
        started.elapsed()
    );

    server.shutdown().await;
}

#[tokio::test]
async fn transcript_names_the_wire_fault_beside_the_reply() {
    let server = TestServer::with_scenario_file(scenario_file("malformed-replies"))
        .await
        .unwrap();
    let mut c = offer(server.smtp_addr(), "bad-code@example.test").await;
    c.raw_until(|b| b.ends_with(b"\r\n")).await;
    c.send(b"QUIT\r\n").await;
    c.until_closed().await;
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let text = sessions[0].transcript();
    assert!(
        text.contains(
            "S: 2xx 2.1.5 Recipient ok  [rule: bad code]\n-- reply malformed on purpose (bad_code)"
        ),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn smtplib_survives_a_cut_inside_data_and_nothing_is_stored() {
    let server = TestServer::with_scenario_file(scenario_file("cut-during-data"))
        .await
        .unwrap();
    let script = r#"
import smtplib, sys
body = "Subject: big\r\n\r\n" + ("x" * 76 + "\r\n") * 100
try:
    with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
        s.sendmail("app@example.test", ["user@example.test"], body)
    print("sent")
except (smtplib.SMTPServerDisconnected, ConnectionError) as e:
    print("disconnected")
"#;
    let out = python(script, server.smtp_addr().port()).await;
    assert_eq!(out, "disconnected\n");
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let text = sessions[0].transcript();
    assert!(text.contains("S: 354 "), "{text}");
    assert!(text.contains("connection cut after"), "{text}");
    assert!(server.messages().is_empty());
    // A short message stays under the cut and is captured.
    let reply = send_message(
        server.smtp_addr(),
        "a@example.test",
        &["b@example.test"],
        "Subject: small\r\n\r\nhi\r\n",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages(1, WAIT).await.unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn post_data_greylisting_and_its_transcript_note() {
    let yaml = r#"
version: 1
clock: virtual
rules:
  - name: greylist after data
    on: message
    greylist: { retry_after: 5m, key: [client_ip, from] }
"#;
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let addr = server.smtp_addr();
    let send = || {
        send_message(
            addr,
            "a@example.test",
            &["b@example.test"],
            "Subject: x\r\n\r\nx\r\n",
        )
    };
    assert_eq!(
        send().await,
        "450 4.2.0 Greylisted, please try again later\r\n"
    );
    assert!(
        server.messages().is_empty(),
        "a deferred message is not stored"
    );
    server.advance_clock(Duration::from_secs(299)).unwrap();
    assert!(send().await.starts_with("450"));
    server.advance_clock(Duration::from_secs(1)).unwrap();
    assert!(send().await.starts_with("250"));
    let sessions = server.wait_for_sessions(3, WAIT).await.unwrap();
    let first = sessions[0].transcript();
    assert!(
        first.contains("-- greylisted: a retry is accepted in 5m (key 127.0.0.1 / a@example.test)\nS: 450 4.2.0 Greylisted"),
        "{first}"
    );
    assert!(sessions[1].transcript().contains("accepted in 1s"));
    server.shutdown().await;
}

#[tokio::test]
async fn connection_rate_421s_and_closes_until_the_window_slides() {
    let yaml = r#"
version: 1
clock: virtual
rules:
  - on: connect
    rate_limit: { max: 2, per: 10m }
"#;
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let addr = server.smtp_addr();
    for _ in 0..2 {
        let (mut c, g) = Raw::greeted(addr).await;
        assert!(g.starts_with("220"), "{g}");
        c.cmd("QUIT").await;
    }
    let (mut c, g) = Raw::greeted(addr).await;
    assert_eq!(
        g,
        "421 4.7.0 Too many connections, slow down and try again later\r\n"
    );
    assert_eq!(c.until_closed().await, "", "421 ends the session");
    server.advance_clock(Duration::from_secs(600)).unwrap();
    let (_, g) = Raw::greeted(addr).await;
    assert!(g.starts_with("220"), "{g}");
    server.shutdown().await;
}

/// With no scenario at all, a recipient at `fault.mailfault.test` gets the
/// reply its local part names; `-close` hangs up after it; a scenario can
/// turn the feature off.
#[tokio::test]
async fn faults_by_address_need_no_scenario() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<app@example.test>").await;
    assert_eq!(
        c.cmd("RCPT TO:<550-5.1.1@fault.mailfault.test>").await,
        "550 5.1.1 Fault requested by the address 550-5.1.1@fault.mailfault.test\r\n"
    );
    assert!(
        c.cmd("RCPT TO:<user@example.test>")
            .await
            .starts_with("250")
    );
    let busy = c
        .cmd("RCPT TO:<421-4.7.0-close@fault.mailfault.test>")
        .await;
    assert!(busy.starts_with("421 4.7.0 Fault requested"), "{busy}");
    assert_eq!(c.until_closed().await, "");
    server.shutdown().await;

    let off = TestServer::with_scenario_str("version: 1\nserver: { address_faults: false }\n")
        .await
        .unwrap();
    let (mut c, _) = Raw::greeted(off.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<app@example.test>").await;
    assert!(
        c.cmd("RCPT TO:<550-5.1.1@fault.mailfault.test>")
            .await
            .starts_with("250")
    );
    off.shutdown().await;
}
