//! Synthetic sessions for the judgement tests: a transcript written line
//! by line with the clock moving as told.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::proto::transaction::Recipient;
use crate::scenario::{Expectations, Scenario};
use crate::store::{SessionRecord, StoredMessage, Transcript};

use super::{Evidence, Report, evaluate};

pub struct Script {
    id: u64,
    started: Duration,
    at: Duration,
    t: Transcript,
    messages: Vec<u64>,
}

fn addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 40000))
}

impl Script {
    /// Session `id` starting at `started` seconds of scenario time.
    pub fn new(id: u64, started: f64) -> Script {
        Script {
            id,
            started: Duration::from_secs_f64(started),
            at: Duration::ZERO,
            t: Transcript::default(),
            messages: Vec::new(),
        }
    }

    /// The usual opening: greeting, EHLO and its reply.
    pub fn greeted(id: u64, started: f64) -> Script {
        Script::new(id, started)
            .s("220 mx.test ESMTP")
            .c("EHLO client.test")
            .s("250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000")
    }

    fn tick(&mut self) {
        self.at += Duration::from_millis(1);
    }

    pub fn c(mut self, line: &str) -> Script {
        self.t.client(self.at, format!("{line}\r\n").as_bytes());
        self.tick();
        self
    }

    /// A reply; `\r\n` separates the lines of a multiline one.
    pub fn s(mut self, wire: &str) -> Script {
        self.t
            .server(self.at, format!("{wire}\r\n").as_bytes(), None);
        self.tick();
        self
    }

    /// A reply a scenario rule produced.
    pub fn rule(mut self, wire: &str, rule: &str) -> Script {
        let rule: Arc<str> = Arc::from(rule);
        self.t
            .server(self.at, format!("{wire}\r\n").as_bytes(), Some(&rule));
        self.tick();
        self
    }

    pub fn note(mut self, text: &str) -> Script {
        self.t.note(self.at, text);
        self.tick();
        self
    }

    pub fn wait(mut self, secs: f64) -> Script {
        self.at += Duration::from_secs_f64(secs);
        self
    }

    /// A one-recipient message accepted as message `id`.
    pub fn send(mut self, from: &str, to: &str, id: u64) -> Script {
        self.messages.push(id);
        self.c(&format!("MAIL FROM:<{from}>"))
            .s("250 2.1.0 Sender ok")
            .c(&format!("RCPT TO:<{to}>"))
            .s("250 2.1.5 Recipient ok")
            .c("DATA")
            .s("354 End data with <CR><LF>.<CR><LF>")
            .note("message content: 100 bytes")
            .s(&format!("250 2.0.0 Ok: queued as {id}"))
    }

    pub fn quit(self) -> Script {
        self.c("QUIT").s("221 2.0.0 Bye")
    }

    pub fn dropped(self) -> Script {
        self.note("client closed the connection")
    }

    pub fn done(self) -> Arc<SessionRecord> {
        let now = SystemTime::now();
        Arc::new(SessionRecord {
            id: self.id,
            client: addr(),
            connection: self.id,
            started_at: now,
            ended_at: now + self.at,
            epoch: 0,
            scenario_started: self.started,
            timeline: None,
            messages: self.messages,
            transcript: self.t,
        })
    }
}

pub fn message(id: u64, session: u64, from: &str, to: &[&str], bytes: usize) -> Arc<StoredMessage> {
    Arc::new(StoredMessage {
        id,
        session_id: session,
        client: addr(),
        received_at: SystemTime::now(),
        helo: Some("client.test".into()),
        mail_from: from.into(),
        mail_params: String::new(),
        recipients: to
            .iter()
            .map(|a| Recipient {
                address: (*a).into(),
                params: String::new(),
            })
            .collect(),
        tls: None,
        auth_user: None,
        received_header: String::new(),
        content: vec![b'x'; bytes],
        smuggling_attempts: 0,
        bare_lf: false,
    })
}

/// The `expect:` block of a scenario, written as YAML lines.
pub fn expectations(block: &str) -> Expectations {
    let yaml = format!("version: 1\nexpect:\n{block}");
    Scenario::from_str(&yaml, "t.yaml")
        .ok()
        .and_then(|s| s.expect)
        .unwrap_or_else(|| panic!("test scenario does not load: {yaml}"))
}

pub fn judge(
    block: &str,
    sessions: &[Arc<SessionRecord>],
    messages: &[Arc<StoredMessage>],
) -> Report {
    let evidence = Evidence {
        sessions,
        messages,
        max_message_size: 1000,
        run: None,
    };
    evaluate(&expectations(block), &evidence)
}
