//! Several instances on one Redis (`--state redis://`): rule state is
//! shared, so a greylisted retry through another instance passes and a rate
//! limit holds across all of them; a Redis outage refuses with 4xx and
//! service resumes by itself; a real Postfix relaying through HAProxy over
//! three instances is greylisted once and delivers on retry. The deployment
//! files in docs/scale-out/ parse and match what the tests run.

use crate::common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::instances::{Instance, behind_balancer, instance, rcpt, scenario};
use common::redis::Redis;

#[tokio::test]
async fn a_greylisted_retry_through_another_instance_passes() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 1s, expire: 1h, key: [client_ip, from, to] }\n    reply: 450 4.2.0 Greylisted, please try again later\n",
    );
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    assert!(rcpt(a.smtp, "user@example.test").await.starts_with("450"));
    // Too early through B as well: the entry is shared.
    assert!(rcpt(b.smtp, "user@example.test").await.starts_with("450"));
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let retry = rcpt(b.smtp, "user@example.test").await;
    assert!(retry.starts_with("250"), "retry through B: {retry}");
    assert!(rcpt(a.smtp, "user@example.test").await.starts_with("250"));
    // Another recipient is a new triplet, on either instance.
    assert!(rcpt(a.smtp, "other@example.test").await.starts_with("450"));
}

#[tokio::test]
async fn a_rate_limit_holds_across_three_instances() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: rate\n    on: rcpt\n    rate_limit: { max: 5, per: 1m, key: client_ip }\n    reply: 451 4.7.1 Rate limit exceeded\n",
    );
    let all = [
        instance(&redis, &file),
        instance(&redis, &file),
        instance(&redis, &file),
    ];
    let mut replies = Vec::new();
    for i in 0..9 {
        let reply = rcpt(all[i % 3].smtp, &format!("u{i}@example.test")).await;
        replies.push(reply[..3].to_owned());
    }
    assert_eq!(
        replies,
        [
            "250", "250", "250", "250", "250", "451", "451", "451", "451"
        ]
    );
}

#[tokio::test]
async fn a_redis_outage_refuses_with_4xx_and_service_resumes() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: rate\n    on: rcpt\n    rate_limit: { max: 100, per: 1m, key: client_ip }\n    reply: 451 4.7.1 Rate limit exceeded\n",
    );
    let a = instance(&redis, &file);
    assert!(rcpt(a.smtp, "u@example.test").await.starts_with("250"));
    assert_eq!(common::http::get(a.http, "/readyz").await.status, 200);
    redis.stop();
    // An instance learns of an outage from a request that fails (its
    // stream reader's blocked read, a probe's ping), not by asking Redis
    // for every connection: once it knows, new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::http::get(a.http, "/readyz").await.status != 503 {
        assert!(
            Instant::now() < deadline,
            "/readyz still 200 with Redis stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut c, greeting) = common::Raw::greeted(a.smtp).await;
    assert!(greeting.starts_with("421 4.3.2"), "{greeting}");
    drop(c.until_closed().await);
    redis.restart();
    let back = rcpt(a.smtp, "u@example.test").await;
    assert!(back.starts_with("250"), "after the outage: {back}");
    assert_eq!(common::http::get(a.http, "/readyz").await.status, 200);
}

/// Messages `at` holds, from its own API.
/// Sends one command to Redis in RESP and returns the raw reply.
async fn redis_cmd(redis: &Redis, args: &[&str]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
        .await
        .unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `max_concurrent` counts connections on every instance, and a count
/// that drops to zero leaves no key behind (one per client ever seen).
#[tokio::test]
async fn concurrent_connections_are_counted_across_instances() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: one at a time\n    on: connect\n    rate_limit: { max_concurrent: 1, key: client_ip }\n    reply: 421 4.7.0 Too many connections\n",
    );
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    let (mut first, greeting) = common::Raw::greeted(a.smtp).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let (_, refused) = common::Raw::greeted(b.smtp).await;
    assert!(refused.starts_with("421"), "{refused}");
    assert!(first.cmd("QUIT").await.starts_with("221"));
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (mut c, g) = common::Raw::greeted(b.smtp).await;
        if g.starts_with("220") {
            assert!(c.cmd("QUIT").await.starts_with("221"));
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {g}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let keys = redis_cmd(&redis, &["KEYS", "{it:conc}*"]).await;
        if keys.starts_with("*0") {
            break;
        }
        assert!(Instant::now() < deadline, "keys left: {keys}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A PUT on B reaches A: new connections there answer by the new rules,
/// and the new scenario's rule state is shared from its first use.
#[tokio::test]
async fn a_scenario_put_on_one_instance_changes_the_replies_of_another() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    assert!(rcpt(a.smtp, "u@example.test").await.starts_with("250"));
    let put = common::http::request(
        b.http,
        "PUT",
        "/api/v1/scenario",
        &[],
        b"version: 1\nrules:\n  - name: once\n    on: rcpt\n    times: 1\n    reply: 550 5.1.1 No such user\n",
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    // A follows within its poll interval.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let reply = rcpt(a.smtp, "u@example.test").await;
        if !reply.starts_with("250") || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reply.starts_with("550 5.1.1"), "{reply}");
    // `times: 1` was spent on A: B, sharing the rule state, accepts.
    assert!(rcpt(b.smtp, "u@example.test").await.starts_with("250"));
    let scenario = common::http::request(a.http, "GET", "/api/v1/scenario", &[], b"").await;
    assert!(
        scenario.text().contains("name: once"),
        "{}",
        scenario.text()
    );
}

async fn held(at: SocketAddr) -> u64 {
    let list = common::http::get(at, "/api/v1/messages").await;
    assert_eq!(list.status, 200, "{}", list.text());
    list.json()["total"].as_u64().expect("a total")
}

/// One sample of `/metrics` on `at` (0 when absent).
async fn metric(at: SocketAddr, name: &str) -> u64 {
    let text = common::http::get(at, "/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// Sessions on `at` where a rule answered (here: the greylist's 450).
async fn faulted_sessions(at: SocketAddr) -> u64 {
    let list = common::http::get(at, "/api/v1/sessions").await.json();
    let sessions = list["sessions"].as_array().expect("sessions");
    sessions
        .iter()
        .filter(|s| s["faults"].as_u64() > Some(0))
        .count() as u64
}

/// `N` instances behind a private HAProxy that sends them PROXY headers,
/// as docs/scale-out/ runs them; `None` where haproxy may be skipped.
fn balanced<const N: usize>(
    redis: &Redis,
    file: &std::path::Path,
) -> Option<([Instance; N], common::haproxy::Haproxy)> {
    let all: [Instance; N] = std::array::from_fn(|_| behind_balancer(redis, file));
    let backends: Vec<_> = all
        .iter()
        .map(|i| common::haproxy::Backend {
            smtp: i.smtp,
            http: i.http,
        })
        .collect();
    let haproxy = common::haproxy::Haproxy::start(&backends)?;
    Some((all, haproxy))
}

#[tokio::test]
async fn a_real_postfix_through_haproxy_is_greylisted_once_and_delivers_on_retry() {
    let started = Instant::now();
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 1s, expire: 1h, key: [client_ip, from, to] }\n    reply: 450 4.2.0 Greylisted, please try again later\n",
    );
    let Some((all, haproxy)) = balanced::<3>(&redis, &file) else {
        return;
    };
    let Some(postfix) = common::postfix::Postfix::start_relaying(haproxy.addr()) else {
        return;
    };
    let accepted = common::send_message(
        postfix.addr(),
        "app@example.test",
        &["user@example.test"],
        "Subject: through the balancer\r\n\r\nhello\r\n",
    )
    .await;
    assert!(
        accepted.starts_with("250"),
        "the sending Postfix: {accepted}"
    );

    // Bounded: Postfix retries within about three seconds of the 450.
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = postfix.log();
        if log.contains("status=sent") {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "Postfix did not deliver within 60s\n{log}\n{}",
            haproxy.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let deferred: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("status=deferred"))
        .collect();
    assert_eq!(deferred.len(), 1, "greylisted exactly once:\n{log}");
    assert!(deferred[0].contains("450 4.2.0"), "{}", deferred[0]);
    assert_eq!(
        log.lines().filter(|l| l.contains("status=sent")).count(),
        1,
        "{log}"
    );
    // Every instance lists the one message and the one greylisted
    // session; each instance's own counters tell which took what: round
    // robin sent the retry to another instance than the first try.
    let (mut took, mut deferred_here) = (Vec::new(), Vec::new());
    for i in &all {
        assert_eq!(held(i.http).await, 1, "every instance lists the message");
        assert_eq!(
            faulted_sessions(i.http).await,
            1,
            "and the greylisted session"
        );
        took.push(metric(i.http, "mailfault_messages_total").await);
        deferred_here.push(metric(i.http, "mailfault_replies_total{code=\"450\"}").await);
    }
    assert_eq!(took.iter().sum::<u64>(), 1, "per instance: {took:?}");
    assert_eq!(
        deferred_here.iter().sum::<u64>(),
        1,
        "per instance: {deferred_here:?}"
    );
    assert_ne!(
        took.iter().position(|&n| n == 1),
        deferred_here.iter().position(|&n| n == 1)
    );
    eprintln!(
        "messages taken per instance {took:?}, greylisted per instance {deferred_here:?}; done in {:?}",
        started.elapsed()
    );
}

fn doc(path: &str) -> String {
    let full = format!("{}/docs/scale-out/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// docs/scale-out/compose.yaml parses (anchors and merge keys expanded) and
/// has Redis, three replicas on one Redis and scenario, and HAProxy.
#[test]
fn the_compose_file_parses_and_runs_three_replicas_on_one_redis() {
    let compose: serde_json::Value =
        serde_saphyr::from_str(&doc("compose.yaml")).expect("compose.yaml is YAML");
    let services = compose["services"].as_object().expect("services");
    assert!(services.contains_key("redis") && services.contains_key("haproxy"));
    let replicas: Vec<_> = services
        .iter()
        .filter(|(_, s)| s["image"] == "mailfault:latest")
        .collect();
    assert_eq!(replicas.len(), 3, "three mailfault replicas");
    for (name, s) in replicas {
        let env = &s["environment"];
        assert_eq!(env["MAILFAULT_STATE"], "redis://redis:6379/0", "{name}");
        let scenario = env["MAILFAULT_SCENARIO"].as_str().expect("a scenario");
        let file = scenario
            .strip_prefix("/scenarios/")
            .expect("from the image");
        let here = common::scenario_file(file.trim_end_matches(".yaml"));
        assert!(here.exists(), "{name}: the image has no {scenario}");
    }
}

/// docs/scale-out/kubernetes.yaml parses as several documents: Redis, three
/// replicas with the state in MAILFAULT_STATE and probes on /readyz and
/// /livez, an SMTP Service, and a scenario that loads.
#[test]
fn the_kubernetes_manifest_parses_with_three_probed_replicas() {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&doc("kubernetes.yaml")).expect("kubernetes.yaml is YAML");
    let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "Deployment",
            "Service",
            "Deployment",
            "Service",
            "Service"
        ]
    );
    let named = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let app = named("Deployment", "mailfault");
    assert_eq!(app["spec"]["replicas"], 3);
    let c = &app["spec"]["template"]["spec"]["containers"][0];
    let env = c["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "MAILFAULT_STATE"
                && e["value"] == "redis://mailfault-redis:6379/0")
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    named("Deployment", "mailfault-redis");
    named("Service", "mailfault-redis");
    let smtp = named("Service", "mailfault-smtp");
    assert_eq!(smtp["spec"]["ports"][0]["targetPort"], "smtp");
    let api = named("Service", "mailfault-api");
    assert_eq!(api["spec"]["ports"][0]["targetPort"], "http");
    let scenario = named("ConfigMap", "mailfault-scenario")["data"]["scenario.yaml"]
        .as_str()
        .expect("a scenario");
    mailfault::Scenario::from_str(scenario, "kubernetes.yaml").expect("the scenario loads");
}

/// docs/scale-out/haproxy.cfg is valid for HAProxy, the page shows its
/// backend, and the test's generated configuration has the same shape.
#[test]
fn the_haproxy_configuration_is_valid_and_mirrored() {
    let file = doc("haproxy.cfg");
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scale-out.md"))
        .expect("docs/scale-out.md");
    let generated = common::haproxy::config(
        "127.0.0.1:2525".parse().unwrap(),
        &[common::haproxy::Backend {
            smtp: "127.0.0.1:1025".parse().unwrap(),
            http: "127.0.0.1:8025".parse().unwrap(),
        }],
    );
    for line in [
        "mode tcp",
        "frontend smtp",
        "default_backend mailfault",
        "backend mailfault",
        "balance roundrobin",
        "option httpchk",
        "http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost",
        "http-check expect status 200",
        "send-proxy-v2",
        "check port 8025",
    ] {
        assert!(file.contains(line), "haproxy.cfg lacks `{line}`");
        assert!(page.contains(line), "docs/scale-out.md lacks `{line}`");
        assert!(generated.contains(line), "the test's config lacks `{line}`");
    }
    let backend = file.split("backend mailfault\n").nth(1).expect("a backend");
    for line in backend.lines().filter(|l| l.contains(" server ")) {
        assert!(page.contains(line), "docs/scale-out.md lacks `{line}`");
    }
    let Some(bin) = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        let required = std::env::var("MAILFAULT_REDIS_TESTS").as_deref() == Ok("require");
        assert!(
            !required,
            "MAILFAULT_REDIS_TESTS=require but haproxy is not installed"
        );
        eprintln!("SKIPPED: haproxy is not installed; haproxy.cfg not checked by haproxy -c");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, &file).unwrap();
    // Compose's service names do not resolve here: init-addr none lets the
    // check pass without them.
    let out = Command::new(bin)
        .args(["-c", "-f"])
        .arg(&cfg)
        .output()
        .expect("haproxy -c runs");
    assert!(
        out.status.success(),
        "haproxy rejects docs/scale-out/haproxy.cfg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Ids in the `250 ... queued as N` replies, as numbers.
fn queued_id(reply: &str) -> Option<u64> {
    reply.rsplit("queued as ").next()?.trim().parse().ok()
}

/// Waits (bounded) until `at` lists at least `n` messages; the list.
pub(crate) async fn messages_listed(at: SocketAddr, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = common::http::get(at, "/api/v1/messages?limit=100000")
            .await
            .json();
        let messages = list["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() >= n || Instant::now() > deadline {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const EXPECT_QUIT: &str = "version: 1\nexpect:\n  quit: true\n";

#[tokio::test]
async fn a_message_sent_to_one_instance_is_seen_through_every_other() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, EXPECT_QUIT);
    let (a, b, c) = (
        instance(&redis, &file),
        instance(&redis, &file),
        instance(&redis, &file),
    );
    let mut events = common::http::open_events(c.http).await;
    let reply = common::send_message(
        a.smtp,
        "app@example.test",
        &["user@example.test"],
        "Subject: shared pickles\r\n\r\nsent to A\r\n",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    // C's event stream announces what A captured.
    common::http::read_events_until(&mut events, "shared pickles").await;
    // B lists, fetches and finds it.
    let listed = messages_listed(b.http, 1).await;
    assert_eq!(listed.len(), 1, "B lists A's message: {listed:?}");
    let id = listed[0]["ID"].as_str().expect("an ID").to_owned();
    let raw = common::http::get(b.http, &format!("/api/v1/message/{id}/raw")).await;
    assert_eq!(raw.status, 200);
    assert!(
        raw.text()
            .ends_with("Subject: shared pickles\r\n\r\nsent to A\r\n")
    );
    let found = common::http::get(b.http, "/api/v1/search?query=pickles")
        .await
        .json();
    assert_eq!(found["messages_count"], 1, "{found}");

    // A session on B that hangs up without QUIT: C's report judges both.
    let (mut hangup, _) = common::Raw::greeted(b.smtp).await;
    hangup.cmd("EHLO client.test").await;
    drop(hangup);
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let report = common::http::get(c.http, "/api/v1/report").await.json();
        if report["summary"]["sessions"].as_u64() >= Some(2) || Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(report["summary"]["sessions"], 2, "{report}");
    let quit = report["verdicts"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "quit"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        quit["passed"], false,
        "B's hang-up fails `quit` on C: {report}"
    );
    // Ids are unique across the instances.
    let sessions = common::http::get(c.http, "/api/v1/sessions").await.json();
    let ids: Vec<_> = sessions["sessions"]
        .as_array()
        .map(|s| s.iter().map(|s| s["id"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(ids.len(), 2, "{sessions}");
    assert_ne!(ids[0], ids[1]);
}

/// One message over a fresh connection: the reply to the dot, or the
/// first reply that is not the expected one (a 421 greeting, a 451);
/// `None` when the connection broke (a killed server).
async fn try_send(at: SocketAddr, content: &str) -> Option<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(at).await.ok()?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut reply = async || loop {
        let line = lines.next_line().await.ok()??;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Some(line);
        }
    };
    let greeting = reply().await?;
    if !greeting.starts_with("220") {
        return Some(greeting);
    }
    for (line, want) in [
        ("EHLO client.test\r\n", "250"),
        ("MAIL FROM:<app@example.test>\r\n", "250"),
        ("RCPT TO:<user@example.test>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        write.write_all(line.as_bytes()).await.ok()?;
        let got = reply().await?;
        if !got.starts_with(want) {
            return Some(got);
        }
    }
    write.write_all(content.as_bytes()).await.ok()?;
    write.write_all(b".\r\n").await.ok()?;
    let done = reply().await?;
    let _ = write.write_all(b"QUIT\r\n").await;
    Some(done)
}

/// `senders` clients each sending messages to `at` until `stop` fires (or
/// `each` each); every id that got a 250, and how many replies were 4xx.
async fn send_until(
    at: SocketAddr,
    senders: usize,
    each: usize,
    stop: tokio_util::sync::CancellationToken,
) -> (Vec<u64>, usize) {
    let mut tasks = Vec::new();
    for s in 0..senders {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut deferred) = (Vec::new(), 0);
            for i in 0..each {
                if stop.is_cancelled() {
                    break;
                }
                let content = format!("Subject: {s}-{i}\r\n\r\nbody\r\n");
                match tokio::time::timeout(Duration::from_secs(5), try_send(at, &content)).await {
                    Ok(Some(reply)) if reply.starts_with("250") => acked.extend(queued_id(&reply)),
                    Ok(Some(reply)) if reply.starts_with('4') => deferred += 1,
                    // A killed server: the reply never came.
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            (acked, deferred)
        }));
    }
    let mut all = (Vec::new(), 0);
    for t in tasks {
        let (acked, deferred) = t.await.expect("a sender");
        all.0.extend(acked);
        all.1 += deferred;
    }
    all
}

/// The message ids `at` lists (Mailpit's `ID` is the store's id).
async fn held_ids(at: SocketAddr, n: usize) -> std::collections::HashSet<u64> {
    messages_listed(at, n)
        .await
        .iter()
        .filter_map(|m| m["ID"].as_str()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn sigkill_of_an_instance_loses_no_acknowledged_message() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let (mut a, b) = (instance(&redis, &file), instance(&redis, &file));
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(send_until(a.smtp, 20, 400, stop.clone()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    a.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let (acked, _) = run.await.expect("the senders");
    assert!(
        acked.len() >= 20,
        "some messages got their 250: {}",
        acked.len()
    );
    let held = held_ids(b.http, acked.len()).await;
    let lost: Vec<_> = acked.iter().filter(|id| !held.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not in B's store: {lost:?}"
    );
    // A's sessions cut by the kill never end; once A has been silent long
    // enough, B stops listing them as in progress.
    let open = |list: &serde_json::Value| {
        list["sessions"]
            .as_array()
            .map_or(0, |s| s.iter().filter(|s| s["open"] == true).count())
    };
    let mut list = common::http::get(b.http, "/api/v1/sessions").await.json();
    let cut = open(&list);
    let deadline = Instant::now() + Duration::from_secs(30);
    while open(&list) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        list = common::http::get(b.http, "/api/v1/sessions").await.json();
    }
    assert_eq!(
        open(&list),
        0,
        "{cut} sessions of the killed instance still in progress"
    );
    eprintln!("{cut} sessions cut by the kill, dropped from B's list");
}

#[tokio::test]
async fn a_redis_restart_mid_run_defers_then_accepts_and_loses_nothing() {
    let Some(mut redis) = Redis::start_durable() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let a = instance(&redis, &file);
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(send_until(a.smtp, 20, 400, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    redis.restart();
    // After the outage, new messages get their 250 again.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = common::send_message(
        a.smtp,
        "app@example.test",
        &["user@example.test"],
        "Subject: after\r\n\r\nbody\r\n",
    )
    .await;
    stop.cancel();
    let (mut acked, deferred) = run.await.expect("the senders");
    assert!(after.starts_with("250"), "after the restart: {after}");
    acked.extend(queued_id(&after));
    assert!(deferred > 0, "the outage answered 4xx");
    // A new instance reads everything back from Redis alone.
    let fresh = instance(&redis, &file);
    let held = held_ids(fresh.http, acked.len()).await;
    let lost: Vec<_> = acked.iter().filter(|id| !held.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not in Redis: {lost:?} of {}",
        acked.len()
    );
}

/// The client address `at` recorded for the session from `client`.
async fn session_of(at: SocketAddr, client: &str) -> Option<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = common::http::get(at, "/api/v1/sessions").await.json();
        let found = list["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["client"] == client).cloned());
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_balancer_s_proxy_header_gives_sessions_the_sender_s_address() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let Some((all, haproxy)) = balanced::<2>(&redis, &file) else {
        return;
    };
    // Through HAProxy (send-proxy-v2): the session's client is this socket,
    // port and all, not the balancer's own connection.
    let (mut c, greeting) = common::Raw::greeted(haproxy.addr()).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let me = c.stream.local_addr().expect("a local address").to_string();
    assert!(c.cmd("QUIT").await.starts_with("221"));
    drop(c);
    assert!(
        session_of(all[0].http, &me).await.is_some(),
        "no session from {me} listed: {}",
        haproxy.log()
    );

    // A version 1 header sent by hand names a TEST-NET sender.
    let (mut c, _) = (common::Raw::connect(all[1].smtp).await, ());
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 1025\r\n")
        .await;
    assert!(c.reply().await.starts_with("220"));
    assert!(c.cmd("QUIT").await.starts_with("221"));
    let session = session_of(all[0].http, "192.0.2.7:40001").await;
    assert!(
        session.is_some(),
        "the header's sender is the session's client"
    );

    // Without a header, the connection is closed before any greeting: a
    // client reaching the port directly cannot pass for anyone.
    let mut direct = tokio::net::TcpStream::connect(all[1].smtp).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    direct.write_all(b"EHLO client.test\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), direct.read_to_end(&mut buf)).await;
    // Closed (or reset, the EHLO being unread) with nothing sent back.
    assert!(read.is_ok(), "the connection was left open");
    assert!(
        buf.is_empty(),
        "closed without a reply: {:?}",
        String::from_utf8_lossy(&buf)
    );
}

#[tokio::test]
async fn ids_stay_unique_when_redis_restarts_empty() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let a = instance(&redis, &file);
    let mut ids = Vec::new();
    for i in 0..3 {
        let content = format!("Subject: before {i}\r\n\r\nbody\r\n");
        let reply = try_send(a.smtp, &content).await.unwrap_or_default();
        ids.extend(queued_id(&reply));
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    // Without persistence the restarted Redis has no counters; A raises
    // them to what it holds when its reader reconnects.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::http::get(a.http, "/readyz").await.status != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let b = instance(&redis, &file);
    let reply = try_send(b.smtp, "Subject: after\r\n\r\nbody\r\n")
        .await
        .unwrap_or_default();
    let new = queued_id(&reply).unwrap_or_else(|| panic!("a 250 from B: {reply}"));
    assert!(!ids.contains(&new), "B reused id {new} of {ids:?}");
    let held = held_ids(a.http, 4).await;
    assert_eq!(held.len(), 4, "A lists four distinct messages: {held:?}");
}

#[tokio::test]
async fn a_new_replica_is_ready_only_once_it_holds_what_the_others_hold() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let a = instance(&redis, &file);
    // Enough entries that replaying them takes several reads.
    let stop = tokio_util::sync::CancellationToken::new();
    let (acked, _) = tokio::time::timeout(
        Duration::from_secs(60),
        send_until(a.smtp, 20, 60, stop.clone()),
    )
    .await
    .expect("the senders finish");
    assert!(acked.len() > 1_000, "{} messages", acked.len());
    let b = instance(&redis, &file);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = common::http::get(b.http, "/readyz").await;
        if ready.status == 200 {
            break;
        }
        assert_eq!(ready.text(), "catching up on the shared store\n");
        assert!(Instant::now() < deadline, "B never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ready means caught up: every acknowledged message is listed at once.
    let list = common::http::get(b.http, "/api/v1/messages?limit=100000")
        .await
        .json();
    assert_eq!(
        list["total"].as_u64(),
        Some(acked.len() as u64),
        "B lists all of A's messages when ready"
    );
}

/// The shared stream keeps within `--max-memory` (and the 1/64th it may
/// pass it by before a trim) as an instance's memory does: appends past it
/// drop the oldest entries until it fits, never the newest.
#[tokio::test]
async fn the_shared_stream_keeps_within_the_memory_bound() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let a = common::instances::instance_with(&redis, &file, &["--max-memory", "1MiB"]);
    let content = format!(
        "Subject: big\r\n\r\n{}",
        format!("{}\r\n", "x".repeat(76)).repeat(800)
    );
    for n in 0..24 {
        let reply = try_send(a.smtp, &content).await;
        assert!(
            reply.as_deref().is_some_and(|r| r.starts_with("250")),
            "message {n}: {reply:?}"
        );
    }
    const BOUND: u64 = (1 << 20) + (1 << 20) / 64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut held, mut entries) = (u64::MAX, 0);
    while Instant::now() < deadline {
        held = resp_number(&redis_cmd(&redis, &["GET", "{it:store}:bytes"]).await).unwrap_or(0);
        entries = resp_number(&redis_cmd(&redis, &["XLEN", "{it:store}:log"]).await).unwrap_or(0);
        if held <= BOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        held <= BOUND,
        "{held} bytes held in Redis, more than --max-memory and its slack"
    );
    assert!(
        held > (1 << 20) - 2 * content.len() as u64,
        "trimmed too far: {held} bytes left"
    );
    assert!(entries >= 12, "{entries} entries left");
    // Both lengths at one moment: sessions still ending append meanwhile.
    let lengths = |redis| async move {
        let reply = redis_cmd(
            redis,
            &[
                "EVAL",
                "return {redis.call('XLEN', KEYS[1]), redis.call('LLEN', KEYS[2])}",
                "2",
                "{it:store}:log",
                "{it:store}:sizes",
            ],
        )
        .await;
        let n: Vec<u64> = reply
            .lines()
            .filter_map(|l| l.strip_prefix(':')?.parse().ok())
            .collect();
        assert_eq!(n.len(), 2, "{reply}");
        (n[0], n[1])
    };
    let (entries, sizes) = lengths(&redis).await;
    assert_eq!(sizes, entries, "one size per entry");
    let last = messages_listed(a.http, 1).await;
    assert!(!last.is_empty(), "the newest message is still held");

    // Sizes lost (a key removed by hand): entries without one are read to
    // learn theirs, and the bound still holds.
    redis_cmd(&redis, &["DEL", "{it:store}:sizes"]).await;
    for n in 0..24 {
        let reply = try_send(a.smtp, &content).await;
        assert!(
            reply.as_deref().is_some_and(|r| r.starts_with("250")),
            "message {n} after the sizes went: {reply:?}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        held = resp_number(&redis_cmd(&redis, &["GET", "{it:store}:bytes"]).await).unwrap_or(0);
        if held <= BOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(held <= BOUND, "{held} bytes held after the sizes went");
    // Every entry older than the sizes' loss is gone by now, and each
    // remaining one has its own size again.
    let (entries, sizes) = lengths(&redis).await;
    assert_eq!(sizes, entries, "one size per entry again");
}

/// An integer reply (`:12`) or a bulk string holding one (`$2`, `12`).
fn resp_number(reply: &str) -> Option<u64> {
    let mut lines = reply.lines();
    let first = lines.next()?;
    match first.strip_prefix(':') {
        Some(n) => n.parse().ok(),
        None if first.starts_with('$') => lines.next()?.parse().ok(),
        None => None,
    }
}
