//! The `mailfault` binary as a user runs it: `serve` catches mail (the README's
//! first command), `check` validates scenarios with exit codes and locations.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mailfault");

/// Kills the server when a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mailfault serve` on a free port and returns it with its address.
fn serve(extra: &[&str]) -> (Running, std::net::SocketAddr, Vec<String>) {
    serve_with_env(extra, &[])
}

/// [`serve`] with extra environment variables.
fn serve_with_env(
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Running, std::net::SocketAddr, Vec<String>) {
    let http: &[&str] = if extra.contains(&"--http") {
        &[]
    } else {
        &["--http", "127.0.0.1:0"]
    };
    let mut child = Command::new(BIN)
        .args(["serve", "--smtp", "127.0.0.1:0"])
        .args(http)
        .args(extra)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut addr = None;
    while Instant::now() < deadline && lines.len() < 10 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(a) = line.trim().strip_prefix("mailfault listening on smtp://") {
            addr = Some(a.parse().unwrap());
        }
        let done = line.starts_with("press Ctrl-C");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no listening line in {lines:?}"));
    (running, addr, lines)
}

#[tokio::test]
async fn serve_catches_mail_and_stops_gracefully_on_sigterm() {
    let (mut server, addr, banner) = serve(&[]);
    assert!(
        banner
            .iter()
            .any(|l| l == "scenario: accept-all (no --scenario given)"),
        "{banner:?}"
    );
    let reply = common::send_message(
        addr,
        "a@b.test",
        &["c@d.test"],
        "Subject: cli\r\n\r\nhi\r\n",
    )
    .await;
    assert_eq!(reply, "250 2.0.0 Ok: queued as 1\r\n");
    // The README's smtplib one-liner, pointed at this server's port.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let snippet = readme
        .lines()
        .find_map(|l| l.strip_prefix("python3 -c '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("README shows a python3 -c example")
        .replace("1025", &addr.port().to_string());
    let status = Command::new("python3")
        .args(["-c", &snippet])
        .status()
        .unwrap();
    assert!(status.success(), "README example failed: {snippet}");
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[tokio::test]
async fn serve_runs_a_scenario_and_a_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("maildir:{}", dir.path().display());
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/unknown-user.yaml");
    let (_server, addr, banner) = serve(&["--scenario", scenario, "--store", &store]);
    assert!(
        banner
            .iter()
            .any(|l| l.starts_with("scenario: unknown-user")),
        "{banner:?}"
    );
    let (mut c, _) = common::Raw::greeted(addr).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    assert!(
        c.cmd("RCPT TO:<x@nowhere.example.test>")
            .await
            .starts_with("550 5.1.1")
    );
    assert!(c.cmd("RCPT TO:<x@example.test>").await.starts_with("250"));
    c.cmd("DATA").await;
    c.send(b"Subject: kept\r\n\r\nbody\r\n").await;
    assert!(c.cmd(".").await.starts_with("250"));
    assert_eq!(
        std::fs::read_dir(dir.path().join("new")).unwrap().count(),
        1
    );
}

#[test]
fn serve_reports_a_bad_scenario_with_exit_2() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--smtp",
            "127.0.0.1:0",
            "--scenario",
            "/nonexistent/x.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/x.yaml"), "{err}");
}

#[test]
fn check_accepts_every_shipped_scenario() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 11);
    let out = Command::new(BIN)
        .arg("check")
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        files.len()
    );
}

#[test]
fn check_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown-field.yaml",
            "version: 1\nrules:\n  - on: rcpt\n    replly: 550 5.1.1 x\n",
            ":4:5:",
        ),
        (
            "class.yaml",
            "version: 1\nrules:\n  - on: rcpt\n    reply: 550 4.1.1 No such user\n",
            ":4:12:",
        ),
        (
            "range.yaml",
            "version: 1\nrules:\n  - on: mail\n    reply: 650 bad\n",
            ":4:12:",
        ),
        ("syntax.yaml", "version: 1\nrules: [\n", ":"),
    ];
    for (name, yaml, location) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        let out = Command::new(BIN).arg("check").arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        let want = format!("{}{location}", path.display());
        assert!(err.contains(&want), "{name}: wanted {want:?} in {err:?}");
    }
}

/// Runs `mailfault serve ARGS` that is expected to fail at start; a server
/// that starts instead is killed after a while, so the test fails rather
/// than hangs.
fn serve_failing(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A listener that cannot bind names its flag, the address, what the
/// system said and what to do, and exits 1: the command line was right,
/// the port was not free.
#[test]
fn serve_explains_a_busy_port_by_its_flag() {
    let certs = tempfile::tempdir().unwrap();
    let certs = certs.path().to_str().unwrap();
    for flag in ["--smtp", "--smtps", "--http"] {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let mut args = vec![flag, &addr];
        if flag != "--smtp" {
            args.extend(["--smtp", "127.0.0.1:0"]);
        }
        if flag != "--http" {
            args.extend(["--http", "off"]);
        }
        if flag == "--smtps" {
            args.extend(["--tls", "auto", "--certs-dir", certs]);
        }
        let (code, err) = serve_failing(&args);
        assert_eq!(code, Some(1), "{flag}: {err}");
        let what = if flag == "--http" {
            "cannot serve HTTP on"
        } else {
            "cannot listen on"
        };
        let said = format!("{what} {addr} ({flag}): ");
        assert!(err.contains(&said), "{flag}: wanted {said:?} in {err}");
        assert!(err.contains("os error"), "{flag}: no OS error in {err}");
        let hint = format!("choose another address with {flag}");
        assert!(err.contains(&hint), "{flag}: wanted {hint:?} in {err}");
        assert!(err.contains("another program"), "{flag}: {err}");
        assert_eq!(err.lines().count(), 1, "{flag}: one line: {err}");
        drop(taken);
    }
}

/// Usage and configuration errors exit 2, runtime failures 1 (above).
#[test]
fn serve_exits_2_when_the_command_line_must_change() {
    let cases: &[(&[&str], &str)] = &[
        (&["--smtps", "127.0.0.1:0"], "--smtps needs a certificate"),
        (
            &["--tls", "/nonexistent/c.pem,/nonexistent/k.pem"],
            "cannot read /nonexistent/c.pem",
        ),
        (
            &["--smtp", "localhost:x"],
            "invalid value 'localhost:x' for '--smtp",
        ),
        (
            &["--scenario", "/nonexistent/x.yaml"],
            "cannot read scenario",
        ),
    ];
    for (extra, want) in cases {
        let mut args = extra.to_vec();
        if !extra.contains(&"--smtp") {
            args.extend(["--smtp", "127.0.0.1:0"]);
        }
        args.extend(["--http", "off"]);
        let (code, err) = serve_failing(&args);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: wanted {want:?} in {err}");
    }
}

#[test]
fn certs_makes_a_ca_and_a_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["certs", "--dir"])
        .arg(dir.path())
        .args(["--host", "mx.example.test"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ca.pem  (trust this one)"), "{text}");
    assert!(
        text.contains("localhost, 127.0.0.1, ::1, mx.example.test"),
        "{text}"
    );
    for f in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}

#[tokio::test]
async fn serve_with_tls_auto_prints_the_ca_and_offers_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let certs_arg = certs.display().to_string();
    let (server, addr, banner) = serve(&[
        "--tls",
        "auto",
        "--certs-dir",
        &certs_arg,
        "--smtps",
        "127.0.0.1:0",
    ]);
    assert!(
        banner
            .iter()
            .any(|l| l.starts_with("mailfault listening on smtps://127.0.0.1:")),
        "{banner:?}"
    );
    assert!(
        banner
            .iter()
            .any(|l| l.contains("trust the development CA") && l.contains("ca.pem")),
        "{banner:?}"
    );
    assert!(certs.join("server.key").is_file());
    let (mut c, _) = common::Raw::greeted(addr).await;
    let ehlo = c.cmd("EHLO c").await;
    assert!(ehlo.ends_with("250 STARTTLS\r\n"), "{ehlo}");
    drop(server);

    let bad = Command::new(BIN)
        .args(["serve", "--tls", "maybe"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("use off, auto, or CERT,KEY"));
}

/// The rest of serve's `web page and API on http://...` line.
fn web_line(banner: &[String]) -> &str {
    banner
        .iter()
        .find_map(|l| l.strip_prefix("web page and API on http://"))
        .unwrap_or_else(|| panic!("no web page line in {banner:?}"))
}

/// The HTTP address serve printed.
fn http_addr(banner: &[String]) -> std::net::SocketAddr {
    let line = web_line(banner);
    line.split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

#[tokio::test]
async fn serve_puts_the_api_behind_basic_auth_when_asked() {
    let (_server, _smtp, banner) = serve(&["--http", "127.0.0.1:0", "--http-auth", "admin:s3cret"]);
    let line = web_line(&banner);
    assert!(line.ends_with("(basic auth)"), "{line}");
    let addr = http_addr(&banner);
    let denied = common::http::get(addr, "/api/v1/messages").await;
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("www-authenticate"),
        Some("Basic realm=\"mailfault\"")
    );
    assert!(
        denied.json()["error"]
            .as_str()
            .unwrap()
            .contains("--http-auth")
    );
    let wrong = common::http::request(
        addr,
        "GET",
        "/",
        &[("Authorization", "Basic YWRtaW46bm8=")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    // admin:s3cret
    let ok = common::http::request(
        addr,
        "GET",
        "/api/v1/messages",
        &[("Authorization", "Basic YWRtaW46czNjcmV0")],
        b"",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["total"], 0);
}

#[test]
fn healthcheck_exits_0_for_a_ready_server_and_1_for_none() {
    let (_server, _, lines) = serve(&[]);
    let http = lines
        .iter()
        .find_map(|l| l.strip_prefix("web page and API on "))
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| panic!("no HTTP line in {lines:?}"));
    let ok = Command::new(BIN)
        .args(["healthcheck", "--url", &http])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("healthy"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Command::new(BIN)
        .args(["healthcheck"])
        .env("MAILFAULT_HTTP", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    let why = String::from_utf8_lossy(&down.stderr);
    assert!(
        why.contains(&format!("127.0.0.1:{port}")),
        "loopback for 0.0.0.0: {why}"
    );
}

#[tokio::test]
async fn serve_answers_allowed_hosts_and_cors_origins_when_asked() {
    let (_server, _smtp, banner) = serve(&[
        "--http",
        "127.0.0.1:0",
        "--http-allow-host",
        "mailfault.internal",
        "--http-cors",
        "http://localhost:3000",
    ]);
    let addr = http_addr(&banner);
    assert!(
        banner.contains(&"http: also answering Host mailfault.internal".to_owned()),
        "{banner:?}"
    );
    assert!(
        banner.contains(&"http: pages on http://localhost:3000 may call the API (CORS)".to_owned()),
        "{banner:?}"
    );
    let port = addr.port();
    let named = format!("mailfault.internal:{port}");
    let ok = common::http::request(addr, "GET", "/api/v1/messages", &[("Host", &named)], b"").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let other = format!("other.internal:{port}");
    let refused =
        common::http::request(addr, "GET", "/api/v1/messages", &[("Host", &other)], b"").await;
    assert_eq!(refused.status, 421);

    let app = [("Origin", "http://localhost:3000")];
    let preflight = common::http::request(
        addr,
        "OPTIONS",
        "/api/v1/reset",
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204, "{}", preflight.text());
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST")
    );
    let reset = common::http::request(addr, "POST", "/api/v1/reset", &app, b"").await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    assert_eq!(
        reset.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let foreign = common::http::request(
        addr,
        "POST",
        "/api/v1/reset",
        &[("Origin", "http://localhost:3001")],
        b"",
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let bad = Command::new(BIN)
        .args(["serve", "--http-cors", "localhost:3000"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an origin"));
}

#[tokio::test]
async fn in_the_container_any_host_name_is_answered() {
    let (_server, _smtp, banner) =
        serve_with_env(&["--http", "0.0.0.0:0"], &[("MAILFAULT_IN_CONTAINER", "1")]);
    let port = http_addr(&banner).port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let by_service = [("Host", "mailfault:8025")];
    let ok = common::http::request(addr, "GET", "/api/v1/messages", &by_service, b"").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    // Cross-origin changes are still refused.
    let refused = common::http::request(
        addr,
        "POST",
        "/api/v1/reset",
        &[("Host", "mailfault:8025"), ("Origin", "http://evil.test")],
        b"",
    )
    .await;
    assert_eq!(refused.status, 403);
    let same = common::http::request(
        addr,
        "POST",
        "/api/v1/reset",
        &[
            ("Host", "mailfault:8025"),
            ("Origin", "http://mailfault:8025"),
        ],
        b"",
    )
    .await;
    assert_eq!(same.status, 200, "{}", same.text());
}

/// Waits for the process to exit, at most `within`; returns its status and
/// how long it took.
fn exited_within(server: &mut Running, within: Duration) -> (std::process::ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return (status, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "serve still running {within:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn sigterm_drains_for_at_most_the_shutdown_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut server, addr, banner) = serve(&["--shutdown-timeout", "1s"]);
    let http = http_addr(&banner);
    // A client that stalls inside DATA, its message never finished.
    let (mut stalled, _) = common::Raw::greeted(addr).await;
    stalled.cmd("EHLO stalled.example").await;
    stalled.cmd("MAIL FROM:<a@example.test>").await;
    stalled.cmd("RCPT TO:<b@example.test>").await;
    assert!(stalled.cmd("DATA").await.starts_with("354"));
    stalled
        .send(b"Subject: never finished\r\n\r\nhalf a body")
        .await;
    // A long poll for mail that will never come.
    let mut poll = tokio::net::TcpStream::connect(http).await.unwrap();
    poll.write_all(
        format!(
            "GET /api/v1/wait?messages=1&timeout=60s HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(2), poll.read_to_string(&mut answer))
        .await
        .expect("the long poll was not answered at the start of shutdown")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("shutting down"), "{answer}");
    let (status, took) = exited_within(&mut server, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    // The stalled message got no 250: the connection just closed.
    let rest = stalled.until_closed().await;
    assert!(!rest.contains("250"), "{rest:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn serve_raises_the_open_files_soft_limit_to_the_hard_one() {
    // Started with a low soft limit, as many shells and services do.
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""])
        .arg(BIN)
        .args(["serve", "--smtp", "127.0.0.1:0", "--http", "off"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let _running = Running(child);
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 && !line.contains("press Ctrl-C") {}
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open files line in {limits}"));
    let fields: Vec<&str> = open_files.split_whitespace().collect();
    // "Max open files  SOFT  HARD  files"
    let (soft, hard) = (fields[3], fields[4]);
    assert_eq!(soft, hard, "{open_files}");
    assert_ne!(soft, "256", "{open_files}");
}

/// A client sending large messages must not grow the server past
/// `--max-memory`: the oldest messages go, counted, and the newest stays.
#[tokio::test]
async fn large_messages_evict_the_oldest_within_max_memory() {
    let (_server, smtp, banner) = serve(&["--max-memory", "2MiB"]);
    let http = http_addr(&banner);
    let body = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(300 * 1024));
    for i in 0..12 {
        let reply = common::send_message(smtp, "a@example.test", &["b@example.test"], &body).await;
        assert!(reply.starts_with("250"), "message {i}: {reply}");
    }
    let store = common::http::request(http, "GET", "/api/v1/store", &[], b"")
        .await
        .json();
    let bytes = store["bytes"].as_u64().unwrap();
    assert!(bytes <= 2 << 20, "{store}");
    let held = store["messages"].as_u64().unwrap();
    let evicted = store["evicted"]["messages"].as_u64().unwrap();
    assert!((4..12).contains(&held), "{store}");
    assert_eq!(held + evicted, 12, "{store}");
    assert!(store["evicted"]["bytes"].as_u64().unwrap() > 300 * 1024 * evicted);

    let list = common::http::request(http, "GET", "/api/v1/messages", &[], b"")
        .await
        .json();
    assert_eq!(list["messages_count"].as_u64(), Some(held), "{list}");
    let metrics = common::http::request(http, "GET", "/metrics", &[], b"")
        .await
        .text();
    assert!(
        metrics.contains(&format!("\nmailfault_messages_evicted_total {evicted}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nmailfault_store_max_bytes 2097152\n"),
        "{metrics}"
    );
}

#[test]
fn serve_refuses_a_memory_budget_it_cannot_read() {
    for (arg, says) in [("lots", "is not a size"), ("100KiB", "at least 1MiB")] {
        let out = Command::new(BIN)
            .args(["serve", "--max-memory", arg])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{arg}: {err}");
    }
}

/// A local webhook receiver: answers 500 to its first `failing` POSTs, then
/// 200; returns every request it got (head and body) on a channel.
async fn webhook_receiver(
    failing: usize,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut seen = 0;
        while let Ok((mut s, _)) = listener.accept().await {
            seen += 1;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then Content-Length bytes of body (bounded).
            let (head, body) = loop {
                let n = match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await
                {
                    Ok(Ok(n)) if n > 0 => n,
                    _ => break (String::new(), String::new()),
                };
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len || buf.len() > 1 << 20 {
                        let body = String::from_utf8_lossy(&buf[end + 4..]).into_owned();
                        break (head, body);
                    }
                }
            };
            let status = if seen <= failing {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = s
                .write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
            let _ = tx.send((head, body));
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn webhooks_post_messages_sessions_reports_and_verdicts_with_retries() {
    let (hook, mut requests) = webhook_receiver(2).await;
    let url = format!("http://{hook}/hook");
    let scenario = common::scenario_file("complaint");
    let (_server, smtp, banner) =
        serve(&["--webhook", &url, "--scenario", scenario.to_str().unwrap()]);
    let http = http_addr(&banner);
    let reply = common::send_message(
        smtp,
        "news@example.test",
        &["angry@example.test"],
        "Subject: webhook test\r\n\r\nhi\r\n",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    let advance = common::http::request(
        http,
        "POST",
        "/api/v1/clock/advance",
        &[("Content-Type", "application/json")],
        br#"{"by":"1h"}"#,
    )
    .await;
    assert_eq!(advance.status, 200, "{}", advance.text());
    let mut kinds: Vec<String> = Vec::new();
    let mut message_body = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !["message", "session", "report", "verdict"]
        .iter()
        .all(|k| kinds.iter().any(|s| s == k))
    {
        let got = tokio::time::timeout_at(deadline, requests.recv())
            .await
            .unwrap_or_else(|_| panic!("webhooks seen: {kinds:?}"))
            .unwrap();
        let (head, body) = got;
        assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
        let kind = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Mailfault-Event: "))
            .unwrap_or_default()
            .to_owned();
        if kind == "message" {
            message_body = Some(body.clone());
        }
        kinds.push(kind);
    }
    // The first two POSTs failed (500) and were retried.
    assert!(kinds.len() >= 6, "{kinds:?}");
    let summary: serde_json::Value = serde_json::from_str(&message_body.unwrap()).unwrap();
    assert_eq!(
        summary["Subject"], "webhook test",
        "Mailpit's summary: {summary}"
    );
    assert!(summary["ID"].is_string() && summary["Snippet"].is_string());
    let metrics = common::http::get(http, "/metrics").await.text();
    assert!(
        metrics.contains("mailfault_webhooks_total{outcome=\"retried\"} 2"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("mailfault_webhooks_total{outcome=\"sent\"} 0"),
        "{metrics}"
    );
}
