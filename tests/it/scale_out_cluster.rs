//! Three instances on a three-node Redis Cluster (`--state
//! redis-cluster://`), each told of a different node: the store, the rule
//! state and the shared scenario sit on slots of different nodes, and the
//! instances behave as one mailfault as they do on a single Redis.

use crate::common;

use std::time::{Duration, Instant};

use common::instances::{instance_at, rcpt, scenario};
use common::redis::Cluster;

#[tokio::test]
async fn three_instances_on_a_redis_cluster_share_rules_mail_and_scenario() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 1s, expire: 1h, key: [client_ip, from, to] }\n    reply: 450 4.2.0 Greylisted, please try again later\n  - name: rate\n    on: rcpt\n    rate_limit: { max: 4, per: 1m, key: client_ip }\n    reply: 451 4.7.1 Rate limit exceeded\n",
    );
    let (a, b, c) = (
        instance_at(&cluster.url(0), &file),
        instance_at(&cluster.url(1), &file),
        instance_at(&cluster.url(2), &file),
    );

    // Greylisted through A, too early through B, passed through B later.
    assert!(rcpt(a.smtp, "user@example.test").await.starts_with("450"));
    assert!(rcpt(b.smtp, "user@example.test").await.starts_with("450"));
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let retry = rcpt(b.smtp, "user@example.test").await;
    assert!(retry.starts_with("250"), "retry through B: {retry}");

    // The rate window counts across the three: the retry was the first
    // hit, three more pass (one through each), the fifth is refused.
    for at in [c.smtp, a.smtp, b.smtp] {
        let reply = rcpt(at, "user@example.test").await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    let over = rcpt(c.smtp, "user@example.test").await;
    assert!(over.starts_with("451 4.7.1"), "{over}");

    // A scenario without rules PUT on B reaches C; the message C then
    // takes is listed and fetched through A.
    let put = common::http::request(b.http, "PUT", "/api/v1/scenario", &[], b"version: 1\n").await;
    assert_eq!(put.status, 200, "{}", put.text());
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let reply = common::send_message(
            c.smtp,
            "app@example.test",
            &["user@example.test"],
            "Subject: clustered pickles\r\n\r\nsent to C\r\n",
        )
        .await;
        if reply.starts_with("250") || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reply.starts_with("250"), "C follows B's scenario: {reply}");
    let listed = crate::scale_out::messages_listed(a.http, 1).await;
    assert_eq!(listed.len(), 1, "A lists C's message: {listed:?}");
    let id = listed[0]["ID"].as_str().expect("an ID").to_owned();
    let raw = common::http::get(a.http, &format!("/api/v1/message/{id}/raw")).await;
    assert!(
        raw.text()
            .ends_with("Subject: clustered pickles\r\n\r\nsent to C\r\n"),
        "{}",
        raw.text()
    );
    for at in [a.http, b.http, c.http] {
        assert_eq!(common::http::get(at, "/readyz").await.status, 200);
    }
}
