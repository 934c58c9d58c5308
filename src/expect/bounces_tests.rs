//! The judgements on failures after the 250, from synthetic sessions and
//! outbox facts.

use std::sync::Arc;
use std::time::Duration;

use super::testkit::{Script, judge, judge_with_reports, message};
use super::{Report, ReportFact, ReportKind, Verdict};

fn only(r: &Report) -> &Verdict {
    assert_eq!(r.verdicts.len(), 1, "{r:#?}");
    &r.verdicts[0]
}

fn fact(id: u64, kind: ReportKind, to: &str, released: Option<f64>) -> ReportFact {
    ReportFact {
        id,
        kind,
        session_id: 1,
        sender: "app@example.test".into(),
        recipient: to.into(),
        released: released.map(Duration::from_secs_f64),
        delivered: false,
        failed: false,
    }
}

fn bounce(to: &str, at: f64) -> ReportFact {
    fact(
        1,
        ReportKind::Bounce {
            status: "5.1.1".into(),
        },
        to,
        Some(at),
    )
}

#[test]
fn a_bounced_recipient_mailed_again_fails_with_the_report_and_the_rcpt() {
    let sessions = [
        Script::greeted(1, 0.0)
            .send("app@example.test", "gone@example.test", 1)
            .quit()
            .done(),
        Script::greeted(2, 200.0)
            .send("app@example.test", "Gone@Example.test", 2)
            .quit()
            .done(),
    ];
    let block = "  stops_after_hard_bounce: true\n";
    // The bounce came after the second message: nothing was ignored.
    let r = judge_with_reports(block, &sessions, &[], &[bounce("gone@example.test", 300.0)]);
    assert!(only(&r).passed, "{}", r.to_text());
    // It came before: the second message ignored it.
    let r = judge_with_reports(block, &sessions, &[], &[bounce("gone@example.test", 120.0)]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(v.evidence.len(), 2, "{v:#?}");
    assert_eq!(v.evidence[0].at, "120.000s");
    assert!(
        v.evidence[0]
            .line
            .starts_with("report 1: bounce (DSN failed 5.1.1) about <gone@example.test>")
    );
    assert_eq!(v.evidence[1].session, 2);
    assert_eq!(v.evidence[1].line, "C: RCPT TO:<Gone@Example.test>");
    // A pending report (not released yet) stops nothing.
    let pending = fact(
        1,
        ReportKind::Bounce {
            status: "5.1.1".into(),
        },
        "gone@example.test",
        None,
    );
    assert!(only(&judge_with_reports(block, &sessions, &[], &[pending])).passed);
}

#[test]
fn a_5xx_at_rcpt_counts_for_any_sender() {
    let sessions = [
        Script::greeted(1, 0.0)
            .c("MAIL FROM:<a@example.test>")
            .s("250 2.1.0 Sender ok")
            .c("RCPT TO:<gone@example.test>")
            .rule("550 5.1.1 No such user", "gone")
            .quit()
            .done(),
        Script::greeted(2, 5.0)
            .send("b@example.test", "gone@example.test", 1)
            .quit()
            .done(),
    ];
    let v = judge("  stops_after_hard_bounce: true\n", &sessions, &[]);
    let v = only(&v);
    assert!(!v.passed);
    assert!(
        v.evidence[0].line.starts_with("S: 550 5.1.1 No such user"),
        "{v:#?}"
    );
    assert_eq!(v.evidence[1].line, "C: RCPT TO:<gone@example.test>");
}

#[test]
fn complaints_stop_mail_and_delays_do_not() {
    let sessions = [
        Script::greeted(1, 0.0)
            .send("app@example.test", "angry@example.test", 1)
            .send("app@example.test", "slow@example.test", 2)
            .quit()
            .done(),
        Script::greeted(2, 4000.0)
            .send("app@example.test", "slow@example.test", 3)
            .quit()
            .done(),
    ];
    let complaint = fact(
        2,
        ReportKind::Complaint {
            feedback_type: "abuse".into(),
        },
        "angry@example.test",
        Some(3600.0),
    );
    let delay = fact(
        3,
        ReportKind::Delay {
            status: "4.4.7".into(),
        },
        "slow@example.test",
        Some(3600.0),
    );
    let reports = [complaint, delay.clone()];
    let r = judge_with_reports("  stops_after_complaint: true\n", &sessions, &[], &reports);
    assert!(only(&r).passed, "{}", r.to_text());
    let r = judge_with_reports(
        "  keeps_trying_after_delay: true\n",
        &sessions,
        &[],
        &reports,
    );
    assert!(only(&r).passed, "{}", r.to_text());
    assert_eq!(
        only(&r).found,
        "1 delay notice(s); every recipient was mailed again"
    );
    // Only the first session: the delayed recipient was dropped.
    let first = [Arc::clone(&sessions[0])];
    let r = judge_with_reports("  keeps_trying_after_delay: true\n", &first, &[], &[delay]);
    let v = only(&r);
    assert!(!v.passed);
    assert!(v.evidence[0].why.ends_with("treated as final"), "{v:#?}");
}

#[test]
fn notifications_must_come_from_the_null_sender() {
    let mut ok = message(1, 1, "", &["user@example.test"], 0);
    let mut bad = message(2, 1, "noreply@example.test", &["user@example.test"], 0);
    let plain = message(3, 1, "news@example.test", &["user@example.test"], 0);
    Arc::get_mut(&mut ok).unwrap().content =
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n".to_vec();
    Arc::get_mut(&mut bad).unwrap().content = b"Auto-Submitted: auto-replied\r\n\r\nx\r\n".to_vec();
    let sessions = [Script::greeted(1, 0.0).quit().done()];
    let block = "  null_sender_for_reports: true\n";
    let r = judge(block, &sessions, &[Arc::clone(&ok), Arc::clone(&plain)]);
    assert!(only(&r).passed);
    assert_eq!(only(&r).found, "1 notification(s), all from <>");
    let r = judge(block, &sessions, &[ok, bad, plain]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(v.found, "1 of 2 notification(s) not from <>");
    assert!(
        v.evidence[0].line.contains("<noreply@example.test>"),
        "{v:#?}"
    );
}
