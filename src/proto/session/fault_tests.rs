//! Faults the policy asks for that change the session's own course: cutting
//! the connection inside message content, and replies marked for a broken
//! wire form.

use super::tests::{Rules, config, run, run_split};
use super::*;
use crate::proto::event::{Discard, Fate};
use crate::proto::policy::Malformed;
use crate::proto::policy::{Context, Decision, ReplyChoice};
use crate::proto::replies as R;

fn cut_at(n: u64) -> impl Policy {
    Rules(move |ctx: &Context<'_>| {
        (ctx.stage == Stage::Data).then(|| Decision {
            reply: ReplyChoice::Default,
            cut_after: Some(n),
            ..Decision::reply("cut", R::OK)
        })
    })
}

#[test]
fn disconnect_after_bytes_cuts_inside_content_and_stores_nothing() {
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n0123456789\r\nabcdefghij\r\n.\r\nQUIT\r\n";
    for pieces in [&[usize::MAX][..], &[1], &[7, 3]] {
        let out = run_split(config(), cut_at(15), input, pieces);
        assert!(out.closed, "{pieces:?}");
        assert!(out.delivered.is_empty(), "{pieces:?}");
        assert!(
            out.wire
                .ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"),
            "nothing after 354: {:?}",
            out.wire
        );
        assert_eq!(out.closed_by, Some(CloseReason::ContentCut), "{pieces:?}");
        assert!(
            out.events.iter().any(|e| matches!(
                e,
                Event::TransactionEnded(Fate::Discarded(Discard::Cut { .. }))
            )),
            "{:?}",
            out.events
        );
    }
    let out = run(config(), cut_at(0), input);
    assert!(out.closed && out.delivered.is_empty());
    let out = run(config(), cut_at(1_000), input);
    assert_eq!(
        out.delivered.len(),
        1,
        "a limit beyond the message never fires"
    );
}

#[test]
fn disconnect_after_bytes_applies_to_bdat() {
    let out = run(
        config(),
        cut_at(4),
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 10 LAST\r\n0123456789",
    );
    assert!(out.closed);
    assert!(out.delivered.is_empty());
}

#[test]
fn wire_form_travels_with_the_reply() {
    let policy = Rules(|ctx: &Context<'_>| {
        (ctx.stage == Stage::Mail).then(|| Decision {
            reply: ReplyChoice::Default,
            wire: Wire::Malformed(Malformed::TruncatedMultiline),
            ..Decision::reply("broken", R::OK)
        })
    });
    let mut s = Session::new(Arc::new(config()), policy, "192.0.2.1".parse().unwrap(), 1);
    let mut out = Vec::new();
    s.start(&mut out);
    out.clear();
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\n";
    let mut at = 0;
    while let Some(step) = s.receive(&input[at..], &mut out) {
        at += step.consumed;
    }
    let wires: Vec<(u16, Wire)> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) => Some((o.reply.code, o.wire)),
            _ => None,
        })
        .collect();
    assert_eq!(
        wires,
        [
            (250, Wire::Normal),
            (250, Wire::Malformed(Malformed::TruncatedMultiline))
        ]
    );
}
