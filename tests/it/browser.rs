//! The web page in a real browser: Debian's Chromium, driven through
//! chromedriver, watches mail sent over SMTP appear without a reload, opens a
//! session's transcript, and sees a scenario's fault reply highlighted with
//! its rule; and a page on another origin tries to reset and steer the
//! server with `fetch` and changes nothing.
//!
//! Needs `chromium` and `chromium-driver`, so the test is `#[ignore]`d: a
//! plain `cargo test` lists it as ignored rather than printing "passed" for a
//! browser it never started. `.ci/run` installs both and runs it with
//! `--include-ignored` and `MAILFAULT_BROWSER_TESTS=require`, under which a
//! missing browser fails the run; run by hand without them it says "skipped".

use crate::common;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for anything the page should show.
const WAIT: Duration = Duration::from_secs(10);
/// Longest wait for chromedriver to answer its status request.
const DRIVER_READY: Duration = Duration::from_secs(20);

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    // Without these Chromium keeps dialling out, and on a closed network its
    // connections (ours to 127.0.0.1 included) stall behind the failures.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
];

/// An executable: the first of `fixed` that exists, else `name` on PATH.
fn find_program(fixed: &[&str], names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = fixed.iter().map(Path::new).find(|p| p.is_file()) {
        return Some(p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver and Chromium, or `None` after saying why the test is skipped.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("MAILFAULT_BROWSER_TESTS").is_ok_and(|v| v == "require");
    let driver = find_program(&["/usr/bin/chromedriver"], &["chromedriver"]);
    let chromium = find_program(
        &["/usr/bin/chromium"],
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let missing = match (driver, chromium) {
        (Some(d), Some(c)) => return Some((d, c)),
        (None, _) => "chromedriver",
        (Some(_), None) => "chromium",
    };
    if required {
        panic!("MAILFAULT_BROWSER_TESTS=require but {missing} is not installed");
    }
    eprintln!(
        "skipped: {missing} not installed (apt-get install chromium chromium-driver; \
         MAILFAULT_BROWSER_TESTS=require makes this a failure)"
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free port on 127.0.0.1")
        .port()
}

/// A chromedriver process in its own process group; dropping it ends the
/// group, so no Chromium it started outlives the test, even on a panic.
struct Chromedriver {
    child: Child,
    url: String,
    log: PathBuf,
    chromium: PathBuf,
    dir: tempfile::TempDir,
}

impl Chromedriver {
    async fn start(driver: &Path, chromium: PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let me = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            chromium,
            dir,
        };
        me.wait_ready(port).await;
        me
    }

    /// Polls `GET /status` until chromedriver says it is ready.
    async fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + DRIVER_READY;
        loop {
            if let Ok(Ok(status)) =
                tokio::time::timeout(Duration::from_secs(2), http_get(port, "/status")).await
                && status.contains("\"ready\":true")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready within {DRIVER_READY:?}; log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A headless Chromium with a fresh profile.
    async fn browser(&self) -> Client {
        let profile = self.dir.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let options = json!({ "args": args, "binary": self.chromium });
        let caps = json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let caps = caps.as_object().cloned().expect("an object");
        let connect = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await;
        connect.unwrap_or_else(|e| {
            panic!(
                "chromedriver could not start Chromium: {e}; log:\n{}",
                self.log_tail()
            )
        })
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        log.get(start..).unwrap_or(&log).to_string()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process under it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET on 127.0.0.1 (chromedriver refuses 1.0); the body.
/// Reads by Content-Length, as chromedriver keeps the connection open.
async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        got.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if n == 0 || length.is_some_and(|len| body.len() >= len) {
                return Ok(body.to_string());
            }
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Runs `script` (a function body that returns JSON) until `ok` accepts its
/// result, at most [`WAIT`]; panics with the last result and a description.
async fn wait_for(
    browser: &Client,
    what: &str,
    script: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = browser
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script for {what} failed: {e}"));
        if ok(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not show {what} within {WAIT:?}; last saw {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids of the items in a list (`#messages` or `#sessions`), top first.
fn ids_script(list: &str, attr: &str) -> String {
    format!(
        "return [...document.querySelectorAll('#{list} > [{attr}]')]\
         .map(e => Number(e.getAttribute('{attr}')));"
    )
}

/// The transcript lines on screen: classes, text and rule of each.
const TRANSCRIPT: &str = "return [...document.querySelectorAll('#transcript .line')].map(l => ({\
    cls: l.className, \
    text: l.querySelector('.text').textContent, \
    rule: l.querySelector('.rule') ? l.querySelector('.rule').textContent : null }));";

async fn click(browser: &Client, css: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        match browser.find(Locator::Css(css)).await {
            Ok(e) => {
                e.click()
                    .await
                    .unwrap_or_else(|err| panic!("click on {css} failed: {err}"));
                return;
            }
            Err(err) => assert!(
                Instant::now() < deadline,
                "no element {css} within {WAIT:?}: {err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A subject that would run script if the page ever used it as HTML.
const HOSTILE_SUBJECT: &str = "<img src=x onerror=\"window.pwned=1\"> Welcome & hello";

/// An HTML body that tries to run script, in its frame and in the page.
const HOSTILE_HTML: &str = "<h1>Order shipped</h1>\
    <script>document.body.textContent = 'PWNED'; parent.pwned = 1;</script>\
    <img src=x onerror=\"parent.pwned = 2\">";

/// Drives the page at `page` while mail goes to `smtp`. The server runs the
/// [`SCENARIO`] and has seen no mail yet.
async fn drive(browser: &Client, page: &str, smtp: SocketAddr) {
    browser.goto(page).await.expect("open the page");
    wait_for(
        browser,
        "the live status and the scenario",
        "return [document.getElementById('status').dataset.state, \
                 document.getElementById('scenario').textContent];",
        |v| {
            v[0] == "live"
                && v[1]
                    .as_str()
                    .is_some_and(|s| s.contains("name: browser-test"))
        },
    )
    .await;
    // Survives only if the page never reloads.
    browser
        .execute("window.noReload = true; return null;", vec![])
        .await
        .unwrap();

    // 1. A delivery shows up at the top of #messages, then its session.
    let content = format!(
        "From: app@example.test\r\nTo: user@example.test\r\nSubject: {HOSTILE_SUBJECT}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from the browser test.\r\n\
         --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HOSTILE_HTML}\r\n--b1--\r\n"
    );
    let reply =
        common::send_message(smtp, "app@example.test", &["user@example.test"], &content).await;
    assert!(reply.starts_with("250"), "{reply}");
    let ids = wait_for(
        browser,
        "the new message",
        &ids_script("messages", "data-message-id"),
        |v| v.as_array().is_some_and(|a| a.len() == 1),
    )
    .await;
    let message_id = ids[0].as_i64().unwrap();
    let shown = browser
        .execute(
            "const li = document.querySelector('#messages > [data-message-id]'); \
             return [li.querySelector('.subject').textContent, li.querySelectorAll('img').length, \
                     window.pwned === undefined, window.noReload === true];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!([HOSTILE_SUBJECT, 0, true, true]),
        "the subject is text, not HTML"
    );
    let sessions = wait_for(
        browser,
        "the finished session",
        &ids_script("sessions", "data-session-id"),
        |v| v.as_array().is_some_and(|a| a.len() == 1),
    )
    .await;
    let first_session = sessions[0].as_i64().unwrap();

    // 2. The message view: headers, then the raw source.
    click(
        browser,
        &format!("#messages > [data-message-id=\"{message_id}\"]"),
    )
    .await;
    wait_for(
        browser,
        "the message view",
        "const v = document.getElementById('message-view'); \
         return [v.hidden, document.getElementById('mv-subject').textContent, \
                 document.getElementById('mv-html').getAttribute('sandbox')];",
        |v| v[0] == false && v[1] == HOSTILE_SUBJECT && v[2] == "",
    )
    .await;
    // The HTML body renders in its sandboxed frame, and its script does not run.
    click(browser, "#message-view [data-tab=\"html\"]").await;
    browser.enter_frame(0).await.expect("enter the HTML frame");
    let inside = wait_for(
        browser,
        "the HTML body in its frame",
        "const h = document.querySelector('h1'); \
         return [h ? h.textContent : null, document.body.innerText.includes('PWNED')];",
        |v| v[0] == "Order shipped",
    )
    .await;
    assert_eq!(inside[1], json!(false), "a script ran in the mail's HTML");
    browser.enter_parent_frame().await.expect("leave the frame");
    let pwned = browser
        .execute("return window.pwned === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(pwned, json!(true), "the mail's HTML reached the page");
    click(browser, "#message-view [data-tab=\"raw\"]").await;
    wait_for(
        browser,
        "the raw message",
        "return document.getElementById('mv-raw').textContent;",
        |v| {
            v.as_str().is_some_and(|s| {
                s.contains("Hello from the browser test.") && s.contains("Received:")
            })
        },
    )
    .await;

    // 3. The session's transcript: client and server lines, the 250 for the message.
    click(
        browser,
        &format!("#sessions > [data-session-id=\"{first_session}\"]"),
    )
    .await;
    let lines = wait_for(browser, "the transcript", TRANSCRIPT, |v| {
        v.as_array().is_some_and(|a| {
            a.iter().any(|l| {
                l["cls"].as_str().is_some_and(|c| c.contains("server"))
                    && l["text"].as_str().is_some_and(|t| t.starts_with("250"))
            })
        })
    })
    .await;
    let lines = lines.as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["cls"].as_str().unwrap().contains("client")
                && l["text"] == "MAIL FROM:<app@example.test>"),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| l["rule"].is_null()),
        "no fault here: {lines:?}"
    );

    // 4. A fault rule: the 550 is highlighted with the rule's name.
    let (mut c, _) = common::Raw::greeted(smtp).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<app@example.test>").await;
    let refused = c.cmd("RCPT TO:<unknown@example.test>").await;
    assert!(refused.starts_with("550 5.1.1"), "{refused}");
    c.cmd("QUIT").await;
    let sessions = wait_for(
        browser,
        "the second session on top",
        &ids_script("sessions", "data-session-id"),
        |v| v.as_array().is_some_and(|a| a.len() == 2),
    )
    .await;
    let second = sessions[0].as_i64().unwrap();
    assert_ne!(second, first_session, "newest first");
    click(
        browser,
        &format!("#sessions > [data-session-id=\"{second}\"]"),
    )
    .await;
    let faults = wait_for(
        browser,
        "the fault line",
        "return [...document.querySelectorAll('#transcript .line.fault')].map(l => ({\
            cls: l.className, text: l.querySelector('.text').textContent, \
            rule: l.querySelector('.rule').textContent }));",
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    assert_eq!(faults.as_array().unwrap().len(), 1, "{faults}");
    assert!(
        faults[0]["text"].as_str().unwrap().starts_with("550 5.1.1"),
        "{faults}"
    );
    assert_eq!(faults[0]["rule"], "unknown user");
    assert!(
        faults[0]["cls"].as_str().unwrap().contains("c5xx"),
        "5xx coloured: {faults}"
    );

    // 5. The buttons.
    click(browser, "#delete-all").await;
    wait_for(
        browser,
        "an empty message list",
        &ids_script("messages", "data-message-id"),
        |v| v.as_array().is_some_and(|a| a.is_empty()),
    )
    .await;
    click(browser, "#reset").await;
    wait_for(
        browser,
        "an empty session list",
        &ids_script("sessions", "data-session-id"),
        |v| v.as_array().is_some_and(|a| a.is_empty()),
    )
    .await;
    let still = browser
        .execute("return window.noReload === true;", vec![])
        .await
        .unwrap();
    assert_eq!(still, json!(true), "the page reloaded");
}

const SCENARIO: &str = r#"
version: 1
name: browser-test
rules:
  - name: unknown user
    on: rcpt
    match: { to: "unknown@*" }
    reply: 550 5.1.1 No such user here
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: cargo test -- --include-ignored browser"]
async fn page_follows_mail_live_and_marks_faults() {
    let Some((driver, chromium)) = browser_tools() else {
        return;
    };
    let started = Instant::now();
    let server = mailfault::TestServer::with_scenario_str(SCENARIO)
        .await
        .expect("start the server");
    let chromedriver = Chromedriver::start(&driver, chromium).await;
    let browser = chromedriver.browser().await;
    let page = format!("{}/", server.http_url());
    tokio::time::timeout(
        Duration::from_secs(90),
        drive(&browser, &page, server.smtp_addr()),
    )
    .await
    .expect("the browser test took over 90 s");
    browser.close().await.expect("close the browser");
    server.shutdown().await;
    eprintln!("browser test done in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: cargo test -- --include-ignored browser"]
async fn a_page_on_another_origin_cannot_change_the_server() {
    let Some((driver, chromium)) = browser_tools() else {
        return;
    };
    let target = mailfault::TestServer::start()
        .await
        .expect("start the server");
    let reply = common::send_message(
        target.smtp_addr(),
        "app@example.test",
        &["user@example.test"],
        "Subject: keep me\r\n\r\nx\r\n",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    // Another origin: a plain page (no Content-Security-Policy to stop
    // its requests) on another port, as any site the developer opens.
    let other = serve_plain_page().await;
    let chromedriver = Chromedriver::start(&driver, chromium).await;
    let browser = chromedriver.browser().await;
    let attack = async {
        browser
            .goto(&format!("http://{other}/"))
            .await
            .expect("open the other page");
        let api = format!("{}/api/v1", target.http_url());
        // A simple request (no preflight), the one a browser sends as is;
        // then the kinds that need a preflight, which must fail there.
        let script = format!(
            "const api = {api:?}; const out = [];\
             const attempt = (p) => p.then(r => 'answered ' + r.status + ' ' + r.type, e => 'blocked');\
             out.push(await attempt(fetch(api + '/reset', {{method: 'POST', mode: 'no-cors', \
                 headers: {{'Content-Type': 'text/plain'}}, body: 'x'}})));\
             out.push(await attempt(fetch(api + '/messages', {{method: 'DELETE'}})));\
             out.push(await attempt(fetch(api + '/scenario', {{method: 'PUT', \
                 headers: {{'Content-Type': 'application/json'}}, body: 'version: 1'}})));\
             return out;"
        );
        browser
            .execute(&format!("return (async () => {{ {script} }})();"), vec![])
            .await
            .expect("run the cross-origin requests")
    };
    let results = tokio::time::timeout(Duration::from_secs(60), attack)
        .await
        .expect("the browser test took over 60 s");
    // The no-cors POST reaches the server and is refused (the page sees
    // only an opaque answer); the others fail their preflight. Either way
    // nothing changed.
    assert_eq!(results[0], "answered 0 opaque", "{results}");
    assert_eq!(results[1], "blocked", "{results}");
    assert_eq!(results[2], "blocked", "{results}");
    assert_eq!(target.messages().len(), 1, "{results}");
    assert_eq!(target.sessions().len(), 1, "{results}");
    browser.close().await.expect("close the browser");
    target.shutdown().await;
}

/// Serves a bare HTML page on a free loopback port, for the test's lifetime.
async fn serve_plain_page() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the other origin");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let body = "<!doctype html><title>elsewhere</title><p>another site</p>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

/// A bounce after the 250 and a sender that ignores it.
const BOUNCE_SCENARIO: &str = r#"version: 1
name: browser-bounces
clock: virtual
rules:
  - name: mailbox gone
    on: rcpt
    match: { to: "gone@*" }
    bounce: { after: 2m, status: 5.1.1, diagnostic: "550 5.1.1 No such user" }
  - name: greylist
    on: rcpt
    match: { to: "grey@*" }
    greylist: { retry_after: 1s }
expect:
  stops_after_hard_bounce: true
  retried_after_temporary: true
"#;

async fn show_verdicts_and_timeline(browser: &Client, page: &str, server: &mailfault::TestServer) {
    browser.goto(page).await.expect("open the page");
    wait_for(
        browser,
        "the live status and an empty report",
        "return [document.getElementById('status').dataset.state, \
                 document.querySelectorAll('#verdicts .verdict').length];",
        |v| v[0] == "live" && v[1] == 2,
    )
    .await;
    let smtp = server.smtp_addr();
    let reply = common::send_message(
        smtp,
        "app@example.test",
        &["gone@example.test", "grey@example.test"],
        "Subject: one\r\n\r\nhi\r\n",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    server
        .advance_clock(Duration::from_secs(180))
        .expect("virtual clock");
    // The report is released and shows in the outbox list, live.
    wait_for(
        browser,
        "the released bounce in the outbox",
        "return [...document.querySelectorAll('#outbox [data-report-id]')].map(e => e.dataset.state);",
        |v| v == &json!(["released"]),
    )
    .await;
    // The sender ignores it, and retries the greylisted recipient.
    let reply = common::send_message(
        smtp,
        "app@example.test",
        &["gone@example.test", "grey@example.test"],
        "Subject: two\r\n\r\nhi\r\n",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    let verdicts = wait_for(
        browser,
        "the failed verdict with its evidence",
        "return [...document.querySelectorAll('#verdicts .verdict')].map(v => ({\
            name: v.dataset.verdict, passed: v.dataset.passed, \
            evidence: [...v.querySelectorAll('.evidence-link')].map(a => a.getAttribute('href')) }));",
        |v| {
            v.as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x["name"] == "stops_after_hard_bounce"
                        && x["passed"] == "false"
                        && x["evidence"].as_array().is_some_and(|e| e.len() == 2)
                })
            })
        },
    )
    .await;
    let retried = verdicts
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "retried_after_temporary")
        .unwrap();
    assert_eq!(retried["passed"], "true", "{verdicts}");
    // The timeline: gone@ accepted twice with the bounce between; grey@
    // deferred (4xx), then accepted.
    let tracks = wait_for(
        browser,
        "the timeline",
        "return Object.fromEntries([...document.querySelectorAll('#timeline .track')].map(t => [t.dataset.to, {\
            ticks: [...t.querySelectorAll('.tick')].map(k => k.className.replace('tick ', '')), \
            reports: [...t.querySelectorAll('.report')].map(r => r.dataset.report),\
            lefts: [...t.querySelectorAll('.tick, .report')].map(k => parseFloat(k.style.left)) }]));",
        |v| v["gone@example.test"]["ticks"].as_array().is_some_and(|t| t.len() == 2),
    )
    .await;
    assert_eq!(
        tracks["gone@example.test"]["ticks"],
        json!(["c2xx", "c2xx"]),
        "{tracks}"
    );
    assert_eq!(
        tracks["gone@example.test"]["reports"],
        json!(["bounce"]),
        "{tracks}"
    );
    assert_eq!(
        tracks["grey@example.test"]["ticks"],
        json!(["c4xx", "c2xx"]),
        "{tracks}"
    );
    let lefts: Vec<f64> = tracks["gone@example.test"]["lefts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(
        lefts[0] < lefts[1] && lefts[2] > lefts[0],
        "time runs left to right: {lefts:?}"
    );
    // The offending RCPT's evidence link opens its session with the line marked.
    click(
        browser,
        "#verdicts [data-verdict='stops_after_hard_bounce'] .evidence li:nth-child(2) .evidence-link",
    )
    .await;
    let marked = wait_for(
        browser,
        "the offending line highlighted in its transcript",
        "const l = document.querySelector('#transcript .line.highlight'); \
         return l ? l.querySelector('.text').textContent : null;",
        |v| v.is_string(),
    )
    .await;
    assert_eq!(marked, json!("RCPT TO:<gone@example.test>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: cargo test -- --include-ignored browser"]
async fn page_shows_verdicts_reports_and_the_timeline_live() {
    let Some((driver, chromium)) = browser_tools() else {
        return;
    };
    let server = mailfault::TestServer::with_scenario_str(BOUNCE_SCENARIO)
        .await
        .expect("start the server");
    let chromedriver = Chromedriver::start(&driver, chromium).await;
    let browser = chromedriver.browser().await;
    let page = format!("{}/", server.http_url());
    tokio::time::timeout(
        Duration::from_secs(90),
        show_verdicts_and_timeline(&browser, &page, &server),
    )
    .await
    .expect("the browser test took over 90 s");
    browser.close().await.expect("close the browser");
    server.shutdown().await;
}
