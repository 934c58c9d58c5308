//! Three instances on one Redis agree on what is in force: the scenario
//! epoch (the shared scenario's version plus one, whichever instance
//! published it), a reset made through any of them, and a `clock: virtual`
//! scenario's time, advanced through any of them.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::instances::{Instance, instance, rcpt, scenario};
use common::redis::Redis;

/// How long an instance may take to follow what another one published
/// (it polls every 500 ms).
const FOLLOW: Duration = Duration::from_secs(10);

const GREYLIST: &str = "version: 1\nrules:\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 1s, expire: 1h, key: [client_ip, from, to] }\n    reply: 450 4.2.0 Greylisted, please try again later\n";

/// The epoch a connection starting on `at` now is recorded under: one
/// session that QUITs, then its entry in `/api/v1/sessions`, found by the
/// client's address (every instance lists every instance's sessions, and
/// ids are handed out in blocks, so the highest id is not the newest).
async fn epoch_of(at: &Instance) -> u64 {
    let (mut c, greeting) = common::Raw::greeted(at.smtp).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let me = c.stream.local_addr().expect("a local address").to_string();
    assert!(c.cmd("QUIT").await.starts_with("221"));
    drop(c);
    let list = common::http::get(at.http, "/api/v1/sessions").await;
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    let mine = list["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["client"] == me.as_str())
        .cloned()
        .expect("the session just made");
    mine["epoch"].as_u64().expect("an epoch")
}

/// Waits until every instance records new sessions under `want`; the
/// epochs seen last when they do not within [`FOLLOW`].
async fn all_at_epoch(all: &[&Instance], want: u64) -> Result<(), Vec<u64>> {
    let deadline = Instant::now() + FOLLOW;
    loop {
        let mut seen = Vec::new();
        for i in all {
            seen.push(epoch_of(i).await);
        }
        if seen.iter().all(|&e| e == want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(seen);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_json(at: SocketAddr, path: &str, body: &str) -> common::http::Response {
    common::http::request(
        at,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

/// The sessions `at` holds (open ones included), with their epochs.
async fn session_epochs(at: SocketAddr) -> Vec<u64> {
    let list = common::http::get(at, "/api/v1/sessions").await.json();
    list["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["epoch"].as_u64())
        .collect()
}

/// Two PUTs on B, then C starts: A, B and C all number the scenario in
/// force 3 (its version, 2, plus one), so a report on any of them judges
/// the sessions every instance records under it.
#[tokio::test]
async fn every_instance_numbers_the_shared_scenario_alike() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    all_at_epoch(&[&a, &b], 1)
        .await
        .expect("the file each started with is epoch 1");
    let put = |body: &'static str| async move {
        let r =
            common::http::request(b.http, "PUT", "/api/v1/scenario", &[], body.as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["epoch"].as_u64().expect("an epoch")
    };
    assert_eq!(put("version: 1\nname: first\n").await, 2);
    assert_eq!(
        put("version: 1\nname: second\nexpect:\n  quit: true\n").await,
        3
    );
    // C starts after both PUTs: it picks up version 2 at once, as epoch 3.
    let c = instance(&redis, &file);
    if let Err(seen) = all_at_epoch(&[&a, &b, &c], 3).await {
        panic!("A, B and C record new sessions under epochs {seen:?}, not all 3");
    }
    for at in [&a, &b, &c] {
        let yaml = common::http::get(at.http, "/api/v1/scenario").await.text();
        assert!(yaml.contains("name: second"), "{yaml}");
    }

    // A client that hangs up without QUIT, on A and on C; one that QUITs on B.
    for at in [a.smtp, c.smtp] {
        let (mut s, greeting) = common::Raw::greeted(at).await;
        assert!(greeting.starts_with("220"), "{greeting}");
        s.cmd("EHLO client.test").await;
    }
    assert!(rcpt(b.smtp, "u@example.test").await.starts_with("250"));
    for at in [a.http, b.http, c.http] {
        let epochs = session_epochs(at).await;
        assert!(
            epochs.iter().filter(|&&e| e == 3).count() >= 2,
            "sessions after the PUT are of epoch 3 on every instance: {epochs:?}"
        );
    }
    // Every instance judges every epoch-3 session, wherever it ran: the
    // hang-ups on A and C fail `quit` in each report, alike.
    let mut found = Vec::new();
    for at in [a.http, b.http, c.http] {
        let report = common::http::get(at, "/api/v1/report?settle=2s").await;
        assert_eq!(report.status, 200, "{}", report.text());
        let report = report.json();
        assert_eq!(report["passed"], false, "{report:#}");
        let quit = report["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .find(|v| v["name"] == "quit")
            .cloned()
            .expect("a quit verdict");
        assert_eq!(quit["passed"], false, "{quit:#}");
        found.push(quit["found"].clone());
    }
    assert!(
        found.iter().all(|f| f == &found[0]) && found[0].to_string().contains("2 sessions of"),
        "{found:?}"
    );
}

/// A reset through C starts every instance on fresh rule state under one
/// new epoch: a triplet that had passed the greylist on A is deferred again.
#[tokio::test]
async fn a_reset_on_one_instance_resets_every_instance() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, GREYLIST);
    let (a, b, c) = (
        instance(&redis, &file),
        instance(&redis, &file),
        instance(&redis, &file),
    );
    assert!(rcpt(a.smtp, "user@example.test").await.starts_with("450"));
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let passed = rcpt(a.smtp, "user@example.test").await;
    assert!(passed.starts_with("250"), "retry after 1s: {passed}");

    let reset = post_json(c.http, "/api/v1/reset", "").await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    let epoch = reset.json()["epoch"].as_u64().expect("an epoch");
    assert_eq!(epoch, 2, "the reset is version 1 of the shared scenario");
    if let Err(seen) = all_at_epoch(&[&a, &b, &c], epoch).await {
        panic!("after the reset, A, B and C are at epochs {seen:?}, not all {epoch}");
    }
    let again = rcpt(a.smtp, "user@example.test").await;
    assert!(
        again.starts_with("450"),
        "A forgot the triplet with the reset: {again}"
    );
    // The entry is shared again from its first sight.
    assert!(rcpt(b.smtp, "user@example.test").await.starts_with("450"));
}

/// `clock: virtual`: deferred through A, the clock advanced through B past
/// the retry window, the retry through C passes at once; A, which serves
/// no connection meanwhile, catches up within its poll.
#[tokio::test]
async fn a_virtual_clock_advanced_on_one_instance_moves_on_every_instance() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nclock: virtual\nrules:\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 5m, expire: 1h, key: [client_ip, from, to] }\n    reply: 450 4.2.0 Greylisted, please try again later\n",
    );
    let (a, b, c) = (
        instance(&redis, &file),
        instance(&redis, &file),
        instance(&redis, &file),
    );
    assert!(rcpt(a.smtp, "user@example.test").await.starts_with("450"));
    let advanced = post_json(b.http, "/api/v1/clock/advance", r#"{"by":"6m"}"#).await;
    assert_eq!(advanced.status, 200, "{}", advanced.text());
    assert_eq!(advanced.json()["now_ms"], 360_000);
    // At once, not after C's next poll: a connection reads the shared
    // clock when it starts.
    let retry = rcpt(c.smtp, "user@example.test").await;
    assert!(retry.starts_with("250"), "retry through C: {retry}");
    let clock = common::http::get(c.http, "/api/v1/clock").await.json();
    assert_eq!(clock["now_ms"], 360_000, "{clock}");

    let deadline = Instant::now() + FOLLOW;
    loop {
        let clock = common::http::get(a.http, "/api/v1/clock").await.json();
        if clock["now_ms"] == 360_000 {
            break;
        }
        assert!(Instant::now() < deadline, "A's clock: {clock}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Advances add up, whichever instance makes them.
    let more = post_json(a.http, "/api/v1/clock/advance", r#"{"by":"1m"}"#).await;
    assert_eq!(more.json()["now_ms"], 420_000, "{}", more.text());
    assert!(rcpt(a.smtp, "user@example.test").await.starts_with("250"));
}

/// With Redis down, neither a reset nor a clock advance can reach the other
/// instances: both answer 503 and say why.
#[tokio::test]
async fn a_reset_or_clock_advance_without_redis_answers_503() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\nclock: virtual\n");
    let a = instance(&redis, &file);
    redis.stop();
    for (path, body, what) in [
        ("/api/v1/reset", "", "nothing was reset"),
        (
            "/api/v1/clock/advance",
            r#"{"by":"1m"}"#,
            "the clock was not advanced",
        ),
    ] {
        let r = post_json(a.http, path, body).await;
        assert_eq!(r.status, 503, "{path}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(what), "{path}: {error}");
    }
    redis.restart();
    let r = post_json(a.http, "/api/v1/reset", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
}
