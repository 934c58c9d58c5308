//! The answers one input's decisions got, so the decisions can be made
//! again without asking twice.
//!
//! With a shared store, a greylist or rate-window check is a round trip to
//! Redis. Instead of blocking a runtime worker for it, the engine stops the
//! decision at that question ([`Halt::Waiting`]); the connection rewinds
//! the session (see `proto::session::rewind`), fetches the answer
//! asynchronously ([`Tape::answer`]) and feeds the input again. On the
//! replay every question already asked, including the ones answered at once
//! (a probability draw, a connection counted for `max_concurrent`), is
//! answered from the tape in order, so each check-and-update and each
//! seeded draw happens exactly once.
//!
//! In one process nothing waits and nothing is recorded: the tape is only
//! used while the connection has said it can rewind.

use std::net::IpAddr;
use std::time::Duration;

use super::greylist::Verdict;
use super::state::{Now, RuleState, StateError};

/// A question a decision puts to the rule state (or to the draw).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ask {
    Greylist {
        rule: usize,
        key: String,
        now: Now,
        retry_after: Duration,
        expire: Duration,
    },
    RateHit {
        rule: usize,
        key: String,
        now: Now,
        per: Duration,
        /// More hits than this and the rule fires.
        max: u64,
    },
    Enter {
        rule: usize,
        key: String,
    },
    SeeAttempt {
        ip: IpAddr,
        from: String,
        to: String,
    },
    Claim {
        rule: usize,
        times: Option<u32>,
    },
    Retired {
        rule: usize,
        times: u32,
    },
    /// Messages accepted so far (a `message:` condition).
    Accepted,
    /// A seeded probability draw.
    Draw,
}

impl Ask {
    /// Whether `other` is the same question (the clock may have moved
    /// between a pass and its replay; that does not make it another one).
    fn same(&self, other: &Ask) -> bool {
        use Ask::*;
        match (self, other) {
            (
                Greylist { rule, key, .. },
                Greylist {
                    rule: r, key: k, ..
                },
            )
            | (
                RateHit { rule, key, .. },
                RateHit {
                    rule: r, key: k, ..
                },
            )
            | (Enter { rule, key }, Enter { rule: r, key: k }) => rule == r && key == k,
            (SeeAttempt { .. }, SeeAttempt { .. }) | (Claim { .. }, Claim { .. }) => self == other,
            (Retired { .. }, Retired { .. }) => self == other,
            (Accepted, Accepted) | (Draw, Draw) => true,
            _ => false,
        }
    }

    /// The answer, asked of `state` now (blocking if it must). A draw is
    /// not the state's to answer: the engine answers it.
    pub(crate) fn answer_now(&self, state: &dyn RuleState) -> Result<Answer, StateError> {
        Ok(match self {
            Ask::Greylist {
                rule,
                key,
                now,
                retry_after,
                expire,
            } => Answer::Verdict(state.greylist(*rule, key, *now, *retry_after, *expire)?),
            Ask::RateHit {
                rule,
                key,
                now,
                per,
                ..
            } => Answer::Count(state.rate_hit(*rule, key, *now, *per)?),
            Ask::Enter { rule, key } => Answer::Count(state.enter(*rule, key)?),
            Ask::SeeAttempt { ip, from, to } => {
                Answer::Count(u64::from(state.see_attempt(*ip, from, to)?))
            }
            Ask::Claim { rule, times } => Answer::Flag(state.claim(*rule, *times)?),
            Ask::Retired { rule, times } => Answer::Flag(state.retired(*rule, *times)?),
            Ask::Accepted => Answer::Count(state.accepted()?),
            Ask::Draw => Answer::Draw(0.0),
        })
    }
}

/// What a question got.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Answer {
    Verdict(Verdict),
    Count(u64),
    Flag(bool),
    Draw(f64),
}

impl Answer {
    pub(crate) fn verdict(self) -> Verdict {
        match self {
            Answer::Verdict(v) => v,
            _ => Verdict::Pass,
        }
    }

    pub(crate) fn count(self) -> u64 {
        match self {
            Answer::Count(n) => n,
            _ => 0,
        }
    }

    pub(crate) fn flag(self) -> bool {
        matches!(self, Answer::Flag(true))
    }

    pub(crate) fn draw(self) -> f64 {
        match self {
            Answer::Draw(x) => x,
            _ => 0.0,
        }
    }
}

/// Why a decision stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Halt {
    /// The store did not answer: the engine refuses for now.
    Unavailable(StateError),
    /// The decision waits for an answer still to be fetched; whatever the
    /// session did with this pass is rewound.
    Waiting,
}

impl From<StateError> for Halt {
    fn from(e: StateError) -> Self {
        Halt::Unavailable(e)
    }
}

/// Answers in the order they were asked, for the input being handled.
#[derive(Debug, Default)]
pub(crate) struct Tape {
    answers: Vec<(Ask, Result<Answer, StateError>)>,
    /// The next answer a replay reads.
    cursor: usize,
    /// The connection can rewind: a question the store answers
    /// asynchronously stops the decision instead of blocking.
    rewindable: bool,
    /// The questions this pass is waiting for: the one it stopped at, or
    /// checks it went on past, supposing each would not fire (see
    /// [`Tape::ask`]).
    wanted: Vec<Ask>,
}

/// More passes than this over one input and the last one blocks instead:
/// a bound, however the rules are written.
const MAX_PASSES: usize = 32;

impl Tape {
    /// A pass over an input begins; `rewindable`: see the field.
    pub(crate) fn begin(&mut self, rewindable: bool) {
        self.cursor = 0;
        self.wanted.clear();
        self.rewindable = rewindable && self.answers.len() < MAX_PASSES;
    }

    /// The input is handled: its answers are spent.
    pub(crate) fn clear(&mut self) {
        self.answers.clear();
        self.cursor = 0;
        self.wanted.clear();
        self.rewindable = false;
    }

    /// Whether this pass stopped at a question.
    pub(crate) fn waiting(&self) -> bool {
        !self.wanted.is_empty()
    }

    /// Whether any answer of this input was recorded (the pass that gave
    /// it may have had effects the rewind undid).
    pub(crate) fn is_replaying(&self) -> bool {
        !self.answers.is_empty()
    }

    /// The answer to `ask`: from the tape on a replay, else from `here`
    /// (answered now), unless `state` answers it asynchronously and the
    /// connection can rewind, in which case the pass waits for it.
    ///
    /// A greylist or window check that `state` can fetch with others is
    /// not waited for at once: the pass goes on as if it did not fire, to
    /// collect the checks of the rules after it, and all are fetched in one
    /// round trip that stops where one fires. Anything else asked after
    /// such a check (a draw, a count, a claim) stops the pass there, since
    /// it must not happen for a rule the replay may never reach.
    pub(crate) fn ask(
        &mut self,
        state: &dyn RuleState,
        ask: Ask,
        here: impl FnOnce(&Ask) -> Result<Answer, StateError>,
    ) -> Result<Answer, Halt> {
        if !self.wanted.is_empty() {
            return self.go_on_past(state, ask);
        }
        if let Some((asked, answer)) = self.answers.get(self.cursor) {
            if asked.same(&ask) {
                self.cursor += 1;
                return answer.clone().map_err(Halt::Unavailable);
            }
            // The replay took another path: what follows is not its own.
            self.answers.truncate(self.cursor);
        }
        if self.rewindable && state.answers_later(&ask) {
            return self.go_on_past(state, ask);
        }
        let answer = here(&ask);
        if self.rewindable {
            self.answers.push((ask, answer.clone()));
            self.cursor += 1;
        }
        answer.map_err(Halt::Unavailable)
    }

    /// Waits for `ask` with those already wanted: as if it did not fire
    /// when it can be fetched with them, else by stopping the pass.
    fn go_on_past(&mut self, state: &dyn RuleState, ask: Ask) -> Result<Answer, Halt> {
        let supposed = match ask {
            Ask::Greylist { .. } => Answer::Verdict(Verdict::Pass),
            Ask::RateHit { .. } => Answer::Count(0),
            _ => Answer::Flag(false),
        };
        let together = state.batches(&ask) && self.wanted.iter().all(|a| state.batches(a));
        if self.wanted.is_empty() || together {
            self.wanted.push(ask);
        }
        if together {
            Ok(supposed)
        } else {
            Err(Halt::Waiting)
        }
    }

    /// Fetches what this pass waits for, for the replay: one question, or
    /// checks together up to the first that fires.
    pub(crate) async fn answer(&mut self, state: &dyn RuleState) {
        let wanted = std::mem::take(&mut self.wanted);
        if let [ask] = wanted.as_slice() {
            let answer = match state.answer_later(ask) {
                Some(later) => later.await,
                None => ask.answer_now(state),
            };
            self.answers.push((ask.clone(), answer));
            return;
        }
        let Some(batch) = state.answer_batch(&wanted) else {
            // Not fetchable together after all: the first alone, and the
            // replay asks for the rest.
            if let Some(first) = wanted.into_iter().next() {
                let answer = match state.answer_later(&first) {
                    Some(later) => later.await,
                    None => first.answer_now(state),
                };
                self.answers.push((first, answer));
            }
            return;
        };
        match batch.await {
            Ok(answers) => self
                .answers
                .extend(wanted.into_iter().zip(answers).map(|(a, n)| (a, Ok(n)))),
            Err(e) => {
                if let Some(first) = wanted.into_iter().next() {
                    self.answers.push((first, Err(e)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::state::memory::Memory;

    fn memory() -> Memory {
        let yaml = "version: 1\nname: t\nrules:\n  - name: g\n    on: rcpt\n    greylist: { retry_after: 1m }\n";
        Memory::new(&crate::scenario::Scenario::from_str(yaml, "t").expect("a valid scenario"))
    }

    fn greylist(key: &str) -> Ask {
        Ask::Greylist {
            rule: 0,
            key: key.into(),
            now: Now::Virtual(Duration::ZERO),
            retry_after: Duration::from_secs(60),
            expire: Duration::from_secs(3600),
        }
    }

    #[test]
    fn a_replay_reads_every_answer_in_order_and_asks_nothing_twice() {
        let state = memory();
        let mut tape = Tape::default();
        let mut asked = 0;
        tape.begin(true);
        let first = tape.ask(&state, Ask::Draw, |_| {
            asked += 1;
            Ok(Answer::Draw(0.25))
        });
        assert_eq!(first, Ok(Answer::Draw(0.25)));
        let grey = tape.ask(&state, greylist("k"), |a| a.answer_now(&state));
        // Memory answers at once: nothing to wait for.
        assert!(matches!(grey, Ok(Answer::Verdict(Verdict::Defer { .. }))));
        tape.begin(true);
        let again = tape.ask(&state, Ask::Draw, |_| {
            asked += 1;
            Ok(Answer::Draw(0.9))
        });
        assert_eq!(again, Ok(Answer::Draw(0.25)));
        assert_eq!(tape.ask(&state, greylist("k"), |_| unreachable!()), grey);
        assert_eq!(asked, 1);
        tape.clear();
        assert!(!tape.is_replaying());
    }

    #[test]
    fn a_replay_that_takes_another_path_asks_anew() {
        let state = memory();
        let mut tape = Tape::default();
        tape.begin(true);
        let _ = tape.ask(&state, greylist("a"), |a| a.answer_now(&state));
        tape.begin(true);
        let other = tape.ask(&state, greylist("b"), |_| Ok(Answer::Count(7)));
        assert_eq!(other, Ok(Answer::Count(7)));
    }

    #[test]
    fn without_a_rewind_nothing_is_recorded() {
        let state = memory();
        let mut tape = Tape::default();
        tape.begin(false);
        let _ = tape.ask(&state, Ask::Draw, |_| Ok(Answer::Draw(0.5)));
        assert!(!tape.is_replaying());
        assert!(!tape.waiting());
    }
}
