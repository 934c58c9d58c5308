//! `honours_size`: the sender respects the SIZE limit the server
//! advertised (RFC 1870). Three things are checked: a MAIL FROM `SIZE=`
//! declaration above the limit, message content (DATA or BDAT) larger than
//! the limit as the session counted it (its `Content` event), and captured
//! messages larger than the limit.

use super::{Seen, Verdict, delivery};
use crate::proto::command::Verb;
use crate::proto::event::Event;

pub(super) fn honours_size(seen: &Seen<'_>) -> Verdict {
    let max = seen.evidence.max_message_size;
    if max == 0 {
        return Verdict::new(
            "honours_size",
            true,
            "no message larger than the advertised SIZE",
            "the server advertised no SIZE limit, so there was none to honour",
            Vec::new(),
        );
    }
    let mut evidence = Vec::new();
    let (mut declared, mut sent) = (0, 0);
    for s in &seen.sessions {
        for (said, event) in s.events() {
            match event {
                Event::Command(c)
                    if c.verb == Some(Verb::Mail) && c.size.is_some_and(|s| s > max) =>
                {
                    declared += 1;
                    evidence.push(said.evidence(format!("declares a size above {max} bytes")));
                }
                Event::Content { bytes, .. } if *bytes > max => {
                    sent += 1;
                    evidence
                        .push(said.evidence(format!("content above the advertised {max} bytes")));
                }
                _ => {}
            }
        }
    }
    let big: Vec<_> = seen
        .evidence
        .messages
        .iter()
        .filter(|m| m.content.len() as u64 > max)
        .collect();
    for m in &big {
        evidence.push(delivery::message_line(
            seen,
            m,
            "captured, larger than the advertised SIZE",
        ));
    }
    let expected = format!(
        "no message larger than the advertised SIZE {max} (MAIL SIZE= declarations, DATA/BDAT content, captured messages)"
    );
    let ok = declared + sent + big.len() == 0;
    let found = if ok {
        "no declaration, transfer or captured message exceeded it".to_owned()
    } else {
        format!(
            "{declared} MAIL declaration(s), {sent} transfer(s) and {} captured message(s) exceeded it",
            big.len()
        )
    };
    Verdict::new("honours_size", ok, expected, found, evidence)
}
