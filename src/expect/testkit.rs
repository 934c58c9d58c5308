//! Synthetic sessions for the judgement tests: a session's events written
//! one by one, the way the session and the connection record them, with
//! the clock moving as told.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::proto::command;
use crate::proto::event::{Answer, CloseReason, CommandEvent, Event, Fate, ReplyEvent};
use crate::proto::reply::{EnhancedCode, Reply, Wire};
use crate::proto::transaction::Recipient;
use crate::scenario::{Expectations, Scenario};
use crate::store::{EventLog, SessionRecord, StoredMessage};

use super::{Evidence, Report, evaluate};

pub(super) struct Script {
    id: u64,
    started: Duration,
    at: Duration,
    log: EventLog,
    messages: Vec<u64>,
    commands: usize,
    /// Content arrived: the next reply answers it.
    content: bool,
}

fn addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 40000))
}

/// A command line with the facts the session's parser gives it.
fn command_event(line: &str) -> CommandEvent {
    let mut event = CommandEvent::unparsed(line.as_bytes());
    if let Ok(parsed) = command::parse(line.as_bytes()) {
        event.verb = Some(parsed.command.verb());
        match parsed.command {
            command::Command::Mail { from, params } => {
                event.address = Some(from.into());
                event.size = params.size;
            }
            command::Command::Rcpt { to, .. } => event.address = Some(to.into()),
            command::Command::Bdat { last, .. } => event.last = last,
            _ => {}
        }
    }
    event
}

/// `550-5.1.1 no\r\n550 5.1.1 such user` as the reply the session decided.
fn reply(wire: &str) -> Reply {
    let mut code = 0;
    let mut enhanced = None;
    let mut lines = Vec::new();
    for line in wire.split("\r\n") {
        code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        let rest = line.get(4..).unwrap_or("");
        let (e, text) = match rest.split_once(' ') {
            Some((first, tail)) => match EnhancedCode::parse(first) {
                Some(e) => (Some(e), tail),
                None => (None, rest),
            },
            None => (None, rest),
        };
        enhanced = enhanced.or(e);
        lines.push(text.to_owned());
    }
    Reply {
        code,
        enhanced,
        text: lines.join("\n").into(),
    }
}

impl Script {
    /// Session `id` starting at `started` seconds of scenario time.
    pub(super) fn new(id: u64, started: f64) -> Script {
        Script {
            id,
            started: Duration::from_secs_f64(started),
            at: Duration::ZERO,
            log: EventLog::new(),
            messages: Vec::new(),
            commands: 0,
            content: false,
        }
    }

    /// The usual opening: greeting, EHLO and its reply.
    pub(super) fn greeted(id: u64, started: f64) -> Script {
        Script::new(id, started)
            .s("220 mx.test ESMTP")
            .c("EHLO client.test")
            .s("250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000")
    }

    fn push(mut self, event: Event) -> Script {
        self.log.push(self.at, event);
        self.at += Duration::from_millis(1);
        self
    }

    pub(super) fn c(mut self, line: &str) -> Script {
        self.commands += 1;
        self.push(Event::Command(command_event(line)))
    }

    /// A line the client sent after a 421, read while closing.
    pub(super) fn late(self, line: &str) -> Script {
        let mut event = command_event(line);
        event.late = true;
        self.push(Event::Command(event))
    }

    fn reply(mut self, wire: &str, rule: Option<&str>) -> Script {
        let answers = if self.commands == 0 {
            Answer::Greeting
        } else if std::mem::take(&mut self.content) {
            Answer::Content
        } else {
            Answer::Command
        };
        self.push(Event::Reply(ReplyEvent {
            answers,
            reply: reply(wire),
            enhanced: true,
            rule: rule.map(Arc::from),
            wire: Wire::Normal,
        }))
    }

    /// A reply; `\r\n` separates the lines of a multiline one.
    pub(super) fn s(self, wire: &str) -> Script {
        self.reply(wire, None)
    }

    /// A reply a scenario rule produced.
    pub(super) fn rule(self, wire: &str, rule: &str) -> Script {
        self.reply(wire, Some(rule))
    }

    /// Message content of `bytes` arrived; the next reply answers it.
    pub(super) fn content(mut self, bytes: u64) -> Script {
        self.content = true;
        self.push(Event::Content {
            bytes,
            bare_lf: false,
            smuggling: 0,
        })
    }

    /// A TLS handshake succeeded.
    pub(super) fn tls(self) -> Script {
        self.push(Event::TlsEstablished {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
        })
    }

    pub(super) fn wait(mut self, secs: f64) -> Script {
        self.at += Duration::from_secs_f64(secs);
        self
    }

    /// A one-recipient message accepted as message `id`.
    pub(super) fn send(mut self, from: &str, to: &str, id: u64) -> Script {
        self.messages.push(id);
        self.c(&format!("MAIL FROM:<{from}>"))
            .s("250 2.1.0 Sender ok")
            .c(&format!("RCPT TO:<{to}>"))
            .s("250 2.1.5 Recipient ok")
            .c("DATA")
            .s("354 End data with <CR><LF>.<CR><LF>")
            .content(100)
            .push(Event::TransactionEnded(Fate::Stored { id }))
            .s(&format!("250 2.0.0 Ok: queued as {id}"))
    }

    pub(super) fn quit(self) -> Script {
        self.c("QUIT")
            .s("221 2.0.0 Bye")
            .push(Event::ServerClosed(CloseReason::Quit))
    }

    pub(super) fn dropped(self) -> Script {
        self.push(Event::ClientClosed { in_content: false })
    }

    pub(super) fn done(self) -> Arc<SessionRecord> {
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
            log: self.log,
        })
    }
}

pub(super) fn message(
    id: u64,
    session: u64,
    from: &str,
    to: &[&str],
    bytes: usize,
) -> Arc<StoredMessage> {
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
pub(super) fn expectations(block: &str) -> Expectations {
    let yaml = format!("version: 1\nexpect:\n{block}");
    Scenario::from_str(&yaml, "t.yaml")
        .ok()
        .and_then(|s| s.expect)
        .unwrap_or_else(|| panic!("test scenario does not load: {yaml}"))
}

pub(super) fn judge(
    block: &str,
    sessions: &[Arc<SessionRecord>],
    messages: &[Arc<StoredMessage>],
) -> Report {
    judge_with_reports(block, sessions, messages, &[])
}

/// [`judge`] with the outbox's facts.
pub(super) fn judge_with_reports(
    block: &str,
    sessions: &[Arc<SessionRecord>],
    messages: &[Arc<StoredMessage>],
    reports: &[super::ReportFact],
) -> Report {
    let evidence = Evidence {
        sessions,
        messages,
        max_message_size: 1000,
        run: None,
        reports,
    };
    evaluate(&expectations(block), &evidence)
}
