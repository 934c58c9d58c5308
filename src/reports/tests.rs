//! The report builders, read back by mail-parser.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use super::dsn::{self, Action};
use super::*;
use crate::proto::reply::EnhancedCode;

fn original<'a>(raw: &'a [u8], params: &'a str) -> Original<'a> {
    Original {
        hostname: "mx.test",
        mail_from: "b+1@app.test",
        mail_params: params,
        client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        arrival: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        raw,
    }
}

const RAW: &[u8] = b"Subject: hi\r\nFrom: a@app.test\r\n\r\nbody\r\n";

#[test]
fn notify_decides_which_reports_are_wanted() {
    assert!(dsn::wanted("", Action::Failed));
    assert!(dsn::wanted("", Action::Delayed));
    assert!(!dsn::wanted("", Action::Delivered));
    assert!(!dsn::wanted("NOTIFY=NEVER", Action::Failed));
    assert!(dsn::wanted("NOTIFY=SUCCESS", Action::Delivered));
    assert!(!dsn::wanted("NOTIFY=SUCCESS", Action::Failed));
    assert!(dsn::wanted("NOTIFY=FAILURE,DELAY", Action::Delayed));
    assert!(!dsn::wanted("NOTIFY=FAILURE", Action::Delayed));
}

#[test]
fn a_dsn_returns_headers_only_unless_ret_full() {
    let rcpt = dsn::Recipient {
        address: "gone@x.test",
        params: "ORCPT=rfc822;gone+40x.test",
        action: Action::Failed,
        status: EnhancedCode::new(5, 1, 1),
        diagnostic: Some("550 5.1.1 no such user".into()),
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_100);
    let hdrs = dsn::build(
        &original(RAW, ""),
        std::slice::from_ref(&rcpt),
        now,
        "r1@mx.test",
        1,
    );
    let text = String::from_utf8(hdrs.clone()).unwrap();
    assert!(text.contains("Content-Type: text/rfc822-headers"));
    assert!(!text.contains("\r\nbody\r\n"));
    assert!(text.contains("Original-Recipient: rfc822; gone@x.test\r\n"));
    assert!(text.contains("From: Mail Delivery System <MAILER-DAEMON@mx.test>\r\n"));
    assert!(text.contains("To: <b+1@app.test>\r\n"));
    let full = dsn::build(&original(RAW, "RET=FULL"), &[rcpt], now, "r1@mx.test", 1);
    let text = String::from_utf8(full.clone()).unwrap();
    assert!(text.contains("Content-Type: message/rfc822"));
    assert!(text.contains("\r\nbody\r\n"));
    let m = mail_parser::MessageParser::default().parse(&full).unwrap();
    assert_eq!(m.subject(), Some("Undelivered Mail Returned to Sender"));
    assert_eq!(m.message_id(), Some("r1@mx.test"));
}

#[test]
fn boundaries_avoid_the_content() {
    let first = boundary(7, b"");
    let inside = format!("x{first}y");
    assert_ne!(boundary(7, inside.as_bytes()), first);
}

#[test]
fn xtext_decodes() {
    assert_eq!(decode_xtext("a+2Bb+3D"), "a+b=");
    assert_eq!(decode_xtext("broken+4"), "broken+4");
}

#[test]
fn an_arf_report_carries_the_fields() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_100);
    let raw = arf::build(
        &original(RAW, ""),
        "angry@x.test",
        "abuse",
        now,
        "r2@mx.test",
        3,
    );
    let text = String::from_utf8(raw).unwrap();
    for field in [
        "Feedback-Type: abuse\r\n",
        "Version: 1\r\n",
        "Original-Mail-From: <b+1@app.test>\r\n",
        "Original-Rcpt-To: <angry@x.test>\r\n",
        "Source-IP: 192.0.2.7\r\n",
        "Arrival-Date: ",
        "report-type=feedback-report",
    ] {
        assert!(text.contains(field), "{field} missing:\n{text}");
    }
}

/// Complaints keep their message whole until built: a stream of large
/// complained-about messages must not hold more than the outbox's bytes.
#[test]
fn the_outbox_is_bounded_by_bytes() {
    use crate::proto::policy::{Followup, Later};
    use crate::proto::transaction::Recipient;
    use crate::scenario::{Clock, ClockMode};
    use crate::store::{Store, StoredMessage};
    use std::sync::Arc;

    let outbox = outbox::Outbox::new(Arc::new(Store::memory(10)));
    let clock = Arc::new(Clock::new(ClockMode::Virtual));
    let plan = outbox::Plan {
        clock: &clock,
        hostname: "mx.test",
        epoch: 0,
        deliver_to: None,
        dsn_success: false,
    };
    let followup = Followup {
        rule: Arc::from("angry"),
        after: Duration::from_secs(3600),
        later: Later::Complaint {
            feedback_type: Arc::from("abuse"),
        },
        recipients: vec!["angry@x.test".into()],
    };
    for id in 0..100 {
        let message = Arc::new(StoredMessage {
            id,
            session_id: 1,
            client: "192.0.2.7:2525".parse().unwrap(),
            received_at: SystemTime::now(),
            helo: None,
            mail_from: "app@x.test".into(),
            mail_params: String::new(),
            recipients: vec![Recipient {
                address: "angry@x.test".into(),
                params: String::new(),
            }],
            tls: None,
            auth_user: None,
            received_header: String::new(),
            content: vec![b'x'; 1 << 20],
            smuggling_attempts: 0,
            bare_lf: false,
        });
        outbox.plan(&message, std::slice::from_ref(&followup), &plan);
    }
    let held = outbox.in_hand();
    assert!(
        (32..=outbox::MAX_REPORT_BYTES >> 20).contains(&held),
        "{held} reports of 1 MiB held"
    );
    // The ones dropped to stay within the bound say so.
    let listed = outbox.list();
    assert_eq!(listed.len(), 100);
    let dropped = listed
        .iter()
        .filter(|v| v.reason.as_deref() == Some("dropped unsent: the outbox was full"))
        .count();
    assert_eq!(dropped, 100 - held);
}
