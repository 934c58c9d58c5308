use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;
use crate::proto::command::{Deviations, Verb};
use crate::proto::event::{
    Answer, CloseReason, CommandEvent, Deviation, Discard, Event, Fate, ReplyEvent, UNKNOWN_SYNTAX,
};
use crate::proto::policy::TlsFault;
use crate::proto::reply::{EnhancedCode, Malformed, Reply, Wire};
use crate::proto::session::Mechanism;
use crate::scenario::{Clock, ClockMode};

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], 40_123))
}

fn message() -> StoredMessage {
    let mut content = b"Subject: hi\r\n\r\n\0\xff\xfe not UTF-8 \x80\r\n".to_vec();
    content.extend((0..=255u8).cycle().take(70_000));
    StoredMessage {
        id: 42,
        session_id: 7,
        client: "[2001:db8::1]:2525".parse().unwrap_or_else(|_| addr()),
        received_at: UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
        helo: Some("client.example".into()),
        mail_from: String::new(),
        mail_params: "SIZE=123 BODY=8BITMIME".into(),
        recipients: vec![
            Recipient {
                address: "a@b.test".into(),
                params: "NOTIFY=FAILURE".into(),
            },
            Recipient {
                address: "\"quoted local\"@c.test".into(),
                params: String::new(),
            },
            Recipient {
                address: "ünïcode@d.test".into(),
                params: "ORCPT=rfc822;x@y".into(),
            },
        ],
        tls: Some("TLSv1.3 TLS13_AES_128_GCM_SHA256".into()),
        auth_user: None,
        received_header: "Received: from client.example\r\n\tby mailfault; date\r\n".into(),
        content,
        smuggling_attempts: 3,
        bare_lf: true,
    }
}

fn command(verb: Option<Verb>, line: &str) -> Event {
    Event::Command(CommandEvent {
        verb,
        line: line.as_bytes().into(),
        address: None,
        size: None,
        last: false,
        late: false,
    })
}

/// Which variant an event is; exhaustive, so a new variant must be added to
/// [`every_event`] before this compiles.
fn variant(event: &Event) -> usize {
    match event {
        Event::Connected { .. } => 0,
        Event::Command(_) => 1,
        Event::Reply(_) => 2,
        Event::Tolerated(_) => 3,
        Event::TlsFault(_) => 4,
        Event::TlsEstablished { .. } => 5,
        Event::TlsFailed { .. } => 6,
        Event::PlaintextDiscarded { .. } => 7,
        Event::Auth { .. } => 8,
        Event::Content { .. } => 9,
        Event::RuleNote(_) => 10,
        Event::TransactionEnded(_) => 11,
        Event::ClientClosed { .. } => 12,
        Event::ReadFailed { .. } => 13,
        Event::ServerClosed(_) => 14,
        Event::Lingered { .. } => 15,
        Event::Truncated { .. } => 16,
    }
}
const VARIANTS: usize = 17;

fn every_event() -> Vec<Event> {
    let known = Deviations::NAMES
        .first()
        .map_or(UNKNOWN_SYNTAX, |(_, t)| *t);
    vec![
        Event::Connected {
            peer: addr(),
            implicit_tls: true,
        },
        Event::Command(CommandEvent {
            verb: Some(Verb::Mail),
            line: b"MAIL FROM:<a@b.test> SIZE=10\xff\0".as_slice().into(),
            address: Some("a@b.test".into()),
            size: Some(10),
            last: true,
            late: true,
        }),
        command(None, "AUTH ****"),
        Event::Reply(ReplyEvent {
            answers: Answer::Greeting,
            reply: Reply::new(220, None, "ready"),
            enhanced: false,
            rule: None,
            wire: Wire::Normal,
        }),
        Event::Reply(ReplyEvent {
            answers: Answer::Command,
            reply: Reply {
                code: 451,
                enhanced: Some(EnhancedCode::new(4, 7, 1)),
                text: "try again\nlater".to_owned().into(),
            },
            enhanced: true,
            rule: Some(Arc::from("greylist")),
            wire: Wire::Drip { bytes_per_sec: 50 },
        }),
        Event::Reply(ReplyEvent {
            answers: Answer::Content,
            reply: Reply::new(250, Some(EnhancedCode::new(2, 0, 0)), "OK"),
            enhanced: true,
            rule: None,
            wire: Wire::Malformed(Malformed::TruncatedMultiline),
        }),
        Event::Reply(ReplyEvent {
            answers: Answer::Unsolicited,
            reply: Reply::new(421, None, "bye"),
            enhanced: false,
            rule: None,
            wire: Wire::Malformed(Malformed::Split),
        }),
        Event::Tolerated(Deviation::Syntax(known)),
        Event::Tolerated(Deviation::BareLfCommand),
        Event::Tolerated(Deviation::BareCrInCommand),
        Event::TlsFault(TlsFault::WrongHostCert),
        Event::TlsEstablished {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
        },
        Event::TlsFailed { error: None },
        Event::TlsFailed {
            error: Some("bad certificate".into()),
        },
        Event::PlaintextDiscarded { bytes: 17 },
        Event::Auth {
            mechanism: Mechanism::CramMd5,
            user: Some("alice".into()),
            granted: true,
        },
        Event::Auth {
            mechanism: Mechanism::XOAuth2,
            user: None,
            granted: false,
        },
        Event::Content {
            bytes: 1234,
            bare_lf: true,
            smuggling: 2,
        },
        Event::RuleNote("greylisted for 5m".into()),
        Event::TransactionEnded(Fate::Stored { id: 42 }),
        Event::TransactionEnded(Fate::Refused { code: 552 }),
        Event::TransactionEnded(Fate::Discarded(Discard::StoreFalse)),
        Event::TransactionEnded(Fate::Discarded(Discard::NoReply)),
        Event::TransactionEnded(Fate::Discarded(Discard::ClosedBeforeReply)),
        Event::TransactionEnded(Fate::Discarded(Discard::Cut { bytes: 9 })),
        Event::TransactionEnded(Fate::Discarded(Discard::ConnectionLost)),
        Event::TransactionEnded(Fate::Discarded(Discard::StoreFailed {
            error: "disk full".into(),
        })),
        Event::ClientClosed { in_content: true },
        Event::ReadFailed {
            error: "connection reset".into(),
        },
        Event::ServerClosed(CloseReason::TooManyErrors),
        Event::Lingered { unread: 3, late: 4 },
        Event::Truncated { dropped: 5 },
    ]
}

fn record(log: EventLog, timeline: Option<Timeline>) -> SessionRecord {
    SessionRecord {
        id: 9,
        client: addr(),
        connection: 3,
        started_at: UNIX_EPOCH + Duration::new(1_700_000_000, 1),
        ended_at: UNIX_EPOCH + Duration::new(1_700_000_060, 999_999_999),
        epoch: 2,
        scenario_started: Duration::from_millis(1500),
        timeline,
        messages: vec![42, 43],
        log,
    }
}

fn assert_same_record(a: &SessionRecord, b: &SessionRecord) {
    assert_eq!(a.id, b.id);
    assert_eq!(a.client, b.client);
    assert_eq!(a.connection, b.connection);
    assert_eq!(a.started_at, b.started_at);
    assert_eq!(a.ended_at, b.ended_at);
    assert_eq!(a.epoch, b.epoch);
    assert_eq!(a.scenario_started, b.scenario_started);
    assert_eq!(a.timeline.is_some(), b.timeline.is_some());
    assert_eq!(a.messages, b.messages);
    assert_eq!(a.log, b.log);
    assert_eq!(a.log.dropped(), b.log.dropped());
    assert_eq!(a.transcript(), b.transcript());
}

#[test]
fn a_message_with_binary_content_round_trips() {
    let original = message();
    let bytes = encode_message(&original);
    let decoded = decode_message(&bytes).expect("decodes");
    assert_eq!(decoded, original);
    assert_eq!(decoded.raw(), original.raw());
}

#[test]
fn an_empty_message_round_trips() {
    let mut original = message();
    original.content = Vec::new();
    original.recipients.clear();
    original.helo = None;
    original.received_at = UNIX_EPOCH - Duration::new(5, 7);
    let decoded = decode_message(&encode_message(&original)).expect("decodes");
    assert_eq!(decoded, original);
}

#[test]
fn a_session_with_every_event_and_a_truncated_log_round_trips() {
    let mut log = EventLog::new();
    let events = every_event();
    for (i, event) in events.iter().enumerate() {
        log.push(Duration::from_millis(i as u64), event.clone());
    }
    for i in 0..2_500u64 {
        let at = Duration::from_millis(1_000 + i);
        log.push(at, command(Some(Verb::Noop), "NOOP"));
        log.push(
            at,
            Event::Reply(ReplyEvent {
                answers: Answer::Command,
                reply: Reply::new(250, None, "OK"),
                enhanced: false,
                rule: None,
                wire: Wire::Normal,
            }),
        );
    }
    log.push(
        Duration::from_millis(4_000),
        command(Some(Verb::Rset), "RSET"),
    );
    log.push(
        Duration::from_millis(4_001),
        command(Some(Verb::Noop), "NOOP"),
    );
    assert!(log.dropped() > 0, "the log must be past its cap");
    let mut seen = [false; VARIANTS];
    for stamped in log.events() {
        if let Some(slot) = seen.get_mut(variant(&stamped.event)) {
            *slot = true;
        }
    }
    assert!(seen.iter().all(|s| *s), "every variant recorded: {seen:?}");

    let original = record(log, None);
    let decoded = decode_session(&encode_session(&original)).expect("decodes");
    assert_same_record(&decoded, &original);
    assert!(decoded.timeline.is_none());

    // The private state carried over (a NOOP held back, its replies
    // skipped): both go on recording alike.
    let (mut a, mut b) = (original.log, decoded.log);
    let tail = [
        command(Some(Verb::Noop), "NOOP"),
        Event::Reply(ReplyEvent {
            answers: Answer::Command,
            reply: Reply::new(550, None, "no"),
            enhanced: false,
            rule: None,
            wire: Wire::Normal,
        }),
        Event::ClientClosed { in_content: false },
    ];
    for event in tail {
        a.push(Duration::from_secs(6), event.clone());
        b.push(Duration::from_secs(6), event);
    }
    assert_eq!(a, b);
    assert_eq!(a.weight(), b.weight());
}

#[test]
fn a_syntax_text_this_build_does_not_know_decodes_to_a_fixed_one() {
    let mut log = EventLog::new();
    log.push(
        Duration::ZERO,
        Event::Tolerated(Deviation::Syntax("a liberty from a newer parser")),
    );
    for (_, known) in Deviations::NAMES {
        log.push(Duration::ZERO, Event::Tolerated(Deviation::Syntax(known)));
    }
    let decoded = decode_session(&encode_session(&record(log, None))).expect("decodes");
    let texts: Vec<&str> = decoded
        .log
        .events()
        .iter()
        .filter_map(|s| match s.event {
            Event::Tolerated(Deviation::Syntax(t)) => Some(t),
            _ => None,
        })
        .collect();
    let mut expected = vec![UNKNOWN_SYNTAX];
    expected.extend(Deviations::NAMES.map(|(_, t)| t));
    assert_eq!(texts, expected);
}

#[test]
fn an_open_session_round_trips() {
    for started_at in [
        SystemTime::now(),
        UNIX_EPOCH,
        UNIX_EPOCH - Duration::from_nanos(1),
    ] {
        let original = OpenSession {
            id: u64::MAX,
            client: addr(),
            connection: 0,
            started_at,
            epoch: 12,
        };
        let decoded = decode_open(&encode_open(&original)).expect("decodes");
        assert_eq!(decoded, original);
    }
}

#[test]
fn a_virtual_clock_session_reads_the_same_time_after_decoding() {
    let clock = Arc::new(Clock::new(ClockMode::Virtual));
    let now = Instant::now();
    let started = now.checked_sub(Duration::from_secs(60)).unwrap_or(now);
    assert!(clock.advance(Duration::from_secs(300)).is_ok());
    let offsets = [0, 10, 30, 59, 120, 200, 200, 450].map(Duration::from_secs);
    let mut log = EventLog::new();
    for at in offsets {
        log.push(at, command(Some(Verb::Noop), "NOOP"));
    }
    let original = record(
        log,
        Some(Timeline::Live {
            clock: Arc::clone(&clock),
            started,
        }),
    );
    let decoded = decode_session(&encode_session(&original)).expect("decodes");
    assert_same_record(&decoded, &original);
    assert!(matches!(decoded.timeline, Some(Timeline::Recorded(_))));
    for at in offsets {
        assert_eq!(
            decoded.scenario_time(at),
            original.scenario_time(at),
            "at {at:?}"
        );
    }
    if started < now {
        assert_ne!(
            original.scenario_time(Duration::ZERO),
            original.scenario_time(Duration::from_secs(450)),
            "the clock moved during the session"
        );
    }
    // Between readings: the earlier one plus the time since.
    let between = Duration::from_secs(130);
    assert_eq!(
        decoded.scenario_time(between),
        original.scenario_time(Duration::from_secs(120)) + Duration::from_secs(10)
    );
    // Encoding a decoded record again keeps the same readings.
    let again = decode_session(&encode_session(&decoded)).expect("decodes");
    for at in offsets {
        assert_eq!(again.scenario_time(at), original.scenario_time(at));
    }
}

#[test]
fn an_empty_table_reads_from_the_session_start() {
    let r = record(EventLog::new(), Some(Timeline::Recorded(Vec::new())));
    assert_eq!(
        r.scenario_time(Duration::from_secs(2)),
        Duration::from_millis(3500)
    );
    let r = record(
        EventLog::new(),
        Some(Timeline::Recorded(vec![(
            Duration::from_secs(5),
            Duration::from_secs(100),
        )])),
    );
    assert_eq!(
        r.scenario_time(Duration::from_secs(1)),
        Duration::from_millis(2500)
    );
    assert_eq!(
        r.scenario_time(Duration::from_secs(7)),
        Duration::from_secs(102)
    );
}

fn small_session() -> SessionRecord {
    let mut log = EventLog::new();
    for (i, event) in every_event().into_iter().enumerate() {
        log.push(Duration::from_micros(i as u64 * 7), event);
    }
    record(log, None)
}

#[test]
fn lines_are_text_when_utf8_and_bytes_otherwise_and_both_forms_read_back() {
    let mut log = EventLog::new();
    log.push(
        Duration::from_nanos(1_500),
        command(Some(Verb::Ehlo), "EHLO client.test"),
    );
    log.push(
        Duration::from_millis(2),
        Event::Command(CommandEvent {
            line: b"NOOP \xff".as_slice().into(),
            ..CommandEvent::unparsed(b"")
        }),
    );
    let bytes = encode_session(&record(log, None));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(r#""at":1500,"#), "{text}");
    assert!(text.contains(r#""line":"EHLO client.test""#), "{text}");
    assert!(text.contains(r#""line":[78,79,79,80,32,255]"#), "{text}");
    let decoded = decode_session(&bytes).expect("decodes");
    let lines: Vec<&[u8]> = decoded
        .log
        .events()
        .iter()
        .filter_map(|s| match &s.event {
            Event::Command(c) => Some(&*c.line),
            _ => None,
        })
        .collect();
    assert_eq!(lines, [b"EHLO client.test".as_slice(), b"NOOP \xff"]);
    // A writer may spell a UTF-8 line as bytes; it reads the same.
    let as_bytes = text.replace(
        r#""line":"EHLO client.test""#,
        r#""line":[69,72,76,79,32,99,108,105,101,110,116,46,116,101,115,116]"#,
    );
    let again = decode_session(as_bytes.as_bytes()).expect("decodes");
    assert_eq!(again.log, decoded.log);
}

#[test]
fn every_prefix_of_a_record_is_an_error() {
    let mut small = message();
    small.content.truncate(64);
    let encoded = encode_message(&small);
    for len in 0..encoded.len() {
        assert!(decode_message(&encoded[..len]).is_err(), "prefix {len}");
    }
    let encoded = encode_session(&small_session());
    for len in 0..encoded.len() {
        assert!(decode_session(&encoded[..len]).is_err(), "prefix {len}");
    }
    let encoded = encode_open(&OpenSession {
        id: 1,
        client: addr(),
        connection: 1,
        started_at: UNIX_EPOCH,
        epoch: 1,
    });
    for len in 0..encoded.len() {
        assert!(decode_open(&encoded[..len]).is_err(), "prefix {len}");
    }
}

#[test]
fn a_long_content_cut_short_is_an_error() {
    let encoded = encode_message(&message());
    for cut in [1, 2, 1_000, 69_999] {
        let len = encoded.len() - cut;
        assert!(matches!(
            decode_message(&encoded[..len]),
            Err(CodecError::ContentLength { .. })
        ));
    }
    let mut longer = encoded.clone();
    longer.push(0);
    assert!(matches!(
        decode_message(&longer),
        Err(CodecError::ContentLength { .. })
    ));
}

#[test]
fn headers_say_what_is_wrong() {
    let message = encode_message(&message());
    assert!(matches!(
        decode_message(&[]),
        Err(CodecError::TruncatedHeader { need: 4, have: 0 })
    ));
    assert!(matches!(
        decode_message(b"XX"),
        Err(CodecError::TruncatedHeader { .. })
    ));
    assert!(matches!(
        decode_message(b"XXM\x02{}"),
        Err(CodecError::BadMagic)
    ));
    assert!(matches!(
        decode_session(&message),
        Err(CodecError::WrongKind { found: b'M', .. })
    ));
    assert!(matches!(
        decode_open(&message),
        Err(CodecError::WrongKind { .. })
    ));
    let mut future = message.clone();
    if let Some(version) = future.get_mut(3) {
        *version = 200;
    }
    assert!(matches!(
        decode_message(&future),
        Err(CodecError::UnknownVersion { found: 200 })
    ));
    let mut huge = message.get(..4).unwrap_or_default().to_vec();
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    huge.extend_from_slice(b"{}");
    assert!(matches!(
        decode_message(&huge),
        Err(CodecError::TruncatedHead { .. })
    ));
    let bad = b"MFS\x02{\"id\": 1}";
    match decode_session(bad) {
        Err(CodecError::Json(e)) => assert!(e.to_string().contains("missing field")),
        other => panic!("expected a JSON error, got {other:?}"),
    }
    let mut session = encode_session(&small_session());
    session.extend_from_slice(b" garbage");
    assert!(matches!(decode_session(&session), Err(CodecError::Json(_))));
}

#[test]
fn damaged_records_never_panic() {
    let mut small = message();
    small.content.truncate(16);
    let records = [
        encode_message(&small),
        encode_session(&small_session()),
        encode_open(&OpenSession {
            id: 1,
            client: addr(),
            connection: 1,
            started_at: UNIX_EPOCH,
            epoch: 1,
        }),
    ];
    for original in &records {
        for i in 0..original.len() {
            for flip in [0x01u8, 0x20, 0x80, 0xff] {
                let mut damaged = original.clone();
                if let Some(b) = damaged.get_mut(i) {
                    *b ^= flip;
                }
                let _ = decode_message(&damaged);
                let _ = decode_session(&damaged);
                let _ = decode_open(&damaged);
            }
        }
    }
    // Pseudo-random garbage, some of it behind a valid header.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..2_000 {
        let len = round % 97;
        let mut bytes: Vec<u8> = match round % 3 {
            0 => b"MFM\x02".to_vec(),
            1 => b"MFS\x02".to_vec(),
            _ => Vec::new(),
        };
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(state.to_le_bytes().first().copied().unwrap_or(0));
        }
        assert!(decode_message(&bytes).is_err());
        assert!(decode_session(&bytes).is_err());
        assert!(decode_open(&bytes).is_err());
    }
    // Out-of-range numbers inside well-formed JSON.
    let huge_time = format!(
        "MFO\x02{{\"id\":1,\"client\":\"127.0.0.1:1\",\"connection\":1,\"started_at\":{},\"epoch\":1}}",
        i128::MAX
    );
    assert!(decode_open(huge_time.as_bytes()).is_err());
    let huge_duration = "MFS\x02{\"id\":1,\"client\":\"127.0.0.1:1\",\"connection\":1,\"started_at\":0,\"ended_at\":0,\"epoch\":1,\"scenario_started\":340282366920938463463374607431768211455,\"timeline\":null,\"messages\":[],\"log\":{\"events\":[],\"bytes\":0,\"truncated\":null,\"skipping\":false,\"held\":null}}";
    assert!(decode_session(huge_duration.as_bytes()).is_err());
}
