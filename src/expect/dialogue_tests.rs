//! Pairing commands with replies, byte for byte as transcripts hold them.

use super::super::testkit::Script;
use super::*;

fn prompts(d: &Dialogue) -> Vec<String> {
    d.exchanges()
        .map(|e| {
            let what = match &e.prompt {
                Prompt::Greeting => "greeting".to_owned(),
                Prompt::EndOfData => "end-of-data".to_owned(),
                Prompt::Unsolicited => "unsolicited".to_owned(),
                Prompt::Command(c) => c.line.text.clone(),
            };
            let code = e.code().map_or("-".to_owned(), |c| c.to_string());
            format!("{what} => {code}")
        })
        .collect()
}

#[test]
fn pairs_commands_replies_and_the_end_of_data() {
    let s = Script::greeted(1, 0.0)
        .send("a@b.test", "c@d.test", 1)
        .quit()
        .done();
    let d = Dialogue::of(&s);
    assert_eq!(
        prompts(&d),
        [
            "greeting => 220",
            "EHLO client.test => 250",
            "MAIL FROM:<a@b.test> => 250",
            "RCPT TO:<c@d.test> => 250",
            "DATA => 354",
            "end-of-data => 250",
            "QUIT => 221",
        ]
    );
    let ehlo = d.exchanges().nth(1).and_then(|e| e.reply.clone()).unwrap();
    assert_eq!(ehlo.lines.len(), 3, "multiline reply kept whole");
    assert_eq!(d.notes().count(), 1);
}

#[test]
fn pipelined_batch_gets_its_replies_in_order() {
    let s = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b>")
        .c("RCPT TO:<x@y>")
        .c("RCPT TO:<z@y>")
        .c("DATA")
        .s("250 ok")
        .rule("450 4.2.0 Greylisted", "greylist")
        .s("250 ok")
        .s("354 go")
        .s("250 queued")
        .done();
    assert_eq!(
        prompts(&Dialogue::of(&s))[2..],
        [
            "MAIL FROM:<a@b> => 250",
            "RCPT TO:<x@y> => 450",
            "RCPT TO:<z@y> => 250",
            "DATA => 354",
            "end-of-data => 250",
        ]
    );
}

#[test]
fn a_silent_rule_leaves_its_command_without_reply() {
    let s = Script::greeted(1, 0.0)
        .c("NOOP")
        .c("QUIT")
        .s("221 bye")
        .done();
    assert_eq!(
        prompts(&Dialogue::of(&s))[2..],
        ["NOOP => -", "QUIT => 221"]
    );
}

#[test]
fn verbs_and_addresses_are_case_insensitive_and_liberal() {
    let s = Script::new(1, 0.0)
        .c("mail from: <Alice@Example.TEST> SIZE=1234 BODY=8BITMIME")
        .s("250 ok")
        .c("Rcpt To:bob@example.test")
        .s("250 ok")
        .c("bdat 10 last")
        .s("250 ok")
        .c("MAIL FROM:<>")
        .s("250 ok")
        .done();
    let d = Dialogue::of(&s);
    let c: Vec<&Command> = d.commands().collect();
    assert_eq!(c[0].verb, Verb::Mail);
    assert_eq!(c[0].address.as_deref(), Some("alice@example.test"));
    assert_eq!(c[0].size, Some(1234));
    assert_eq!(c[1].verb, Verb::Rcpt);
    assert_eq!(c[1].address.as_deref(), Some("bob@example.test"));
    assert!(c[2].last_chunk && c[2].verb == Verb::Bdat);
    assert_eq!(c[3].address.as_deref(), Some(""));
}

#[test]
fn unsolicited_421_and_broken_replies_stand_alone() {
    let s = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b>")
        .s("250 ok")
        .s("421 4.4.2 Timeout exceeded, closing connection")
        .done();
    assert_eq!(prompts(&Dialogue::of(&s))[3], "unsolicited => 421");
    let t = Script::new(1, 0.0)
        .c("EHLO x")
        .s("250-truncated")
        .note("reply malformed on purpose (truncated_multiline)")
        .c("NOOP")
        .s("XYZ broken")
        .done();
    let d = Dialogue::of(&t);
    assert_eq!(prompts(&d)[0], "EHLO x => 250");
    let noop = d.exchanges().nth(1).unwrap();
    let broken = noop.reply.as_ref().expect("a reply, though malformed");
    assert_eq!(broken.code, None);
}

#[test]
fn evidence_quotes_lines_with_rule_and_scenario_time() {
    let s = Script::new(7, 12.0)
        .wait(0.031)
        .c("RCPT TO:<x@y>")
        .rule("450 4.2.0 Greylisted", "greylist")
        .done();
    let d = Dialogue::of(&s);
    let e = d.exchanges().next().unwrap();
    let reply = e.reply.as_ref().and_then(|r| r.line()).unwrap();
    let ev = reply.evidence("why");
    assert_eq!(ev.session, 7);
    assert_eq!(ev.at, "12.032s");
    assert_eq!(ev.line, "S: 450 4.2.0 Greylisted  [rule: greylist]");
    assert_eq!(
        e.command().unwrap().line.evidence("").line,
        "C: RCPT TO:<x@y>"
    );
}
