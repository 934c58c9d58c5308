//! Decisions that wait for Redis without holding a runtime worker: the
//! connection rewinds the session and feeds the input again once the
//! answer is in. A client must not be able to tell: seeded draws, counts
//! and replies are those of one process in memory; a sender that got its
//! 250 finds the message through the same instance's API at once, though
//! the session did not wait for the shared log to come back; a session's
//! start, which nothing waits for, still reaches every instance.

use crate::common;

use common::instances::{in_memory, instance, rcpt, scenario};
use common::redis::Redis;

/// A coin, then a greylist that waits for Redis: a replay that drew the
/// coin again would shift every later draw of the seeded sequence.
#[tokio::test]
async fn seeded_draws_and_replies_are_those_of_one_process_in_memory() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nseed: 7\nrules:\n  - name: coin\n    on: rcpt\n    match: { probability: 0.5 }\n    reply: 451 4.3.0 Coin says no\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 1h, key: [to] }\n    reply: 450 4.2.0 Greylisted\n",
    );
    let (memory, shared) = (in_memory(&file), instance(&redis, &file));
    let mut replies = (Vec::new(), Vec::new());
    for i in 0..24 {
        let to = format!("u{i}@example.test");
        replies.0.push(rcpt(memory.smtp, &to).await[..3].to_owned());
        replies.1.push(rcpt(shared.smtp, &to).await[..3].to_owned());
    }
    assert_eq!(replies.1, replies.0, "on Redis / in memory");
    for code in ["450", "451"] {
        assert!(replies.0.iter().any(|r| r == code), "{:?}", replies.0);
    }
}

/// `connection: 2` means the second connection to any instance: with a rule
/// that reads it, every number comes from Redis as connections arrive.
#[tokio::test]
async fn a_connection_rule_counts_connections_across_instances() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: second\n    on: connect\n    match: { connection: 2 }\n    reply: 421 4.7.0 Second connection refused\n",
    );
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    let mut greetings = Vec::new();
    for at in [a.smtp, b.smtp, a.smtp, b.smtp] {
        let (_c, greeting) = common::Raw::greeted(at).await;
        greetings.push(greeting[..3].to_owned());
    }
    assert_eq!(greetings, ["220", "421", "220", "220"]);
}

/// Each message is listed by the instance that took it as soon as the
/// client has the 250, with no polling.
#[tokio::test]
async fn a_sender_finds_its_message_through_the_same_instance_at_once() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let a = instance(&redis, &file);
    let (mut c, _) = common::Raw::greeted(a.smtp).await;
    c.cmd("EHLO client.test").await;
    for n in 1..=30 {
        c.cmd("MAIL FROM:<app@example.test>").await;
        c.cmd("RCPT TO:<user@example.test>").await;
        c.cmd("DATA").await;
        c.send(format!("Subject: {n}\r\n\r\nbody\r\n").as_bytes())
            .await;
        let reply = c.cmd(".").await;
        assert!(reply.starts_with("250"), "{reply}");
        let listed = common::http::get(a.http, "/api/v1/messages").await.json();
        assert_eq!(listed["total"], n, "right after message {n}'s 250");
    }
    c.cmd("QUIT").await;
}

/// What one instance acknowledged, every other lists as soon as the
/// client has the 250s, with no polling: a request reads the shared log up
/// to where it ends, so a sender behind a balancer whose API request lands
/// on another replica still finds all its mail. Messages from parallel
/// sessions that stay open keep B's reader a little behind when the
/// request comes.
#[tokio::test]
async fn every_instance_lists_a_message_as_soon_as_one_acknowledged_it() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let (mut c, _) = common::Raw::greeted(a.smtp).await;
        c.cmd("EHLO client.test").await;
        sessions.push(c);
    }
    let mut sent = 0;
    for round in 1..=20 {
        let mut senders = tokio::task::JoinSet::new();
        for mut c in sessions.drain(..) {
            senders.spawn(async move {
                c.cmd("MAIL FROM:<app@example.test>").await;
                c.cmd("RCPT TO:<user@example.test>").await;
                c.cmd("DATA").await;
                c.send(b"Subject: burst\r\n\r\nbody\r\n").await;
                let reply = c.cmd(".").await;
                (c, reply)
            });
        }
        while let Some(done) = senders.join_next().await {
            let (c, reply) = done.expect("a sender finishes");
            assert!(reply.starts_with("250"), "{reply}");
            sessions.push(c);
            sent += 1;
        }
        let listed = common::http::get(b.http, "/api/v1/messages").await.json();
        assert_eq!(
            listed["total"], sent,
            "B, right after A's 250s of round {round}"
        );
    }
}

/// A greylist and a rate limit on the same RCPT are checked in one round
/// trip that stops at the first that fires, as the rules read: a
/// greylisted try is not counted by the rate limit after it.
#[tokio::test]
async fn checks_fetched_together_stop_where_a_rule_fires() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "version: 1\nrules:\n  - name: greylist\n    on: rcpt\n    greylist: { retry_after: 1ns, key: [to] }\n    reply: 450 4.2.0 Greylisted\n  - name: rate\n    on: rcpt\n    rate_limit: { max: 2, per: 1h, key: client_ip }\n    reply: 451 4.7.1 Rate limit exceeded\n",
    );
    let (memory, shared) = (in_memory(&file), instance(&redis, &file));
    for at in [memory.smtp, shared.smtp] {
        let mut replies = Vec::new();
        for to in ["u1", "u1", "u2", "u2", "u3", "u3"] {
            replies.push(rcpt(at, &format!("{to}@example.test")).await[..3].to_owned());
        }
        assert_eq!(replies, ["450", "250", "450", "250", "450", "451"]);
    }
}

/// A session's start goes to the shared log with nobody waiting for it:
/// another instance still lists the session as in progress while it
/// talks, and as ended once it has quit.
#[tokio::test]
async fn a_session_in_progress_on_one_instance_is_listed_on_another() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "version: 1\n");
    let (a, b) = (instance(&redis, &file), instance(&redis, &file));
    let (mut c, _) = common::Raw::greeted(a.smtp).await;
    c.cmd("EHLO client.test").await;
    let sessions = |open: bool| async move {
        let list = common::http::get(b.http, "/api/v1/sessions").await.json();
        list["sessions"]
            .as_array()
            .map_or(0, |s| s.iter().filter(|s| s["open"] == open).count())
    };
    let until = |open: bool| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sessions(open).await == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        sessions(open).await
    };
    assert_eq!(until(true).await, 1, "B lists A's session in progress");
    let bye = c.cmd("QUIT").await;
    assert!(bye.starts_with("221"), "{bye}");
    assert_eq!(until(false).await, 1, "B lists A's session ended");
    assert_eq!(sessions(true).await, 0, "and no longer in progress");
}
