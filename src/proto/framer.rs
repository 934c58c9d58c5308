//! Cuts the read buffer into frames: command lines, dot-stuffed DATA content
//! and byte-counted BDAT chunks.
//!
//! Framing decides where commands end and content begins, which is exactly
//! what SMTP smuggling attacks exploit, so it is strict: only `<CRLF>.<CRLF>`
//! ends DATA, and dot lines next to a bare LF or CR are flagged. Memory is
//! bounded: an over-long command line is reported and skipped, and a long
//! content line is passed on in pieces instead of buffered whole.

use memchr::memchr;

/// What to do with lines ending in LF alone (a session setting; the framer
/// only reports them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BareLf {
    Accept,
    Reject,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Command,
    Data,
    Chunk { remaining: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    CrLf,
    BareLf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DataFlags {
    pub bare_lf: bool,
    pub bare_cr: bool,
    /// A dot line next to a bare LF/CR: an end-of-data a lenient server
    /// would have honoured.
    pub smuggling: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Frame<'b> {
    Line {
        line: &'b [u8],
        ending: Ending,
        bare_cr: bool,
    },
    /// A command line passed the length limit; the rest of it is skipped.
    TooLong,
    /// Bytes of an over-long line being skipped.
    Discard,
    Data {
        bytes: &'b [u8],
        flags: DataFlags,
    },
    DataEnd,
    Chunk(&'b [u8]),
    ChunkEnd,
}

#[derive(Clone, Debug)]
pub(crate) struct Framer {
    mode: Mode,
    max_line: usize,
    discarding: bool,
    at_line_start: bool,
    prev_bare: bool,
    /// The DATA line being passed on in pieces began with `.<CR>`: whether
    /// it is a smuggling dot line shows only at its end.
    dot_cr: bool,
}

fn has_bare_cr(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n'))
}

/// Where the run of ordinary content lines starting at `buf` ends: lines
/// ended by CRLF, with no other CR, not starting with a dot. Such lines need
/// no unstuffing and raise no flag, so they travel as one frame instead of
/// one per line (the per-frame work, not the bytes, is what a message of
/// short lines costs).
fn plain_run(buf: &[u8]) -> usize {
    let mut end = 0;
    while let Some(rest) = buf.get(end..) {
        if rest.first() == Some(&b'.') {
            break;
        }
        let Some(i) = memchr(b'\n', rest) else { break };
        if i == 0 || rest[i - 1] != b'\r' || memchr(b'\r', &rest[..i - 1]).is_some() {
            break;
        }
        end += i + 1;
    }
    end
}

impl Framer {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            mode: Mode::Command,
            max_line: max_line.max(16),
            discarding: false,
            at_line_start: true,
            prev_bare: false,
            dot_cr: false,
        }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    pub(crate) fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.at_line_start = true;
        self.prev_bare = false;
        self.dot_cr = false;
    }

    /// The next frame in `buf` and how many bytes it used; `None` when more
    /// bytes are needed.
    pub(crate) fn next<'b>(&mut self, buf: &'b [u8]) -> Option<(Frame<'b>, usize)> {
        match self.mode {
            Mode::Command => self.command(buf),
            Mode::Data => self.data(buf),
            Mode::Chunk { remaining: 0 } => {
                self.set_mode(Mode::Command);
                Some((Frame::ChunkEnd, 0))
            }
            Mode::Chunk { remaining } => {
                if buf.is_empty() {
                    return None;
                }
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                self.mode = Mode::Chunk {
                    remaining: remaining - n as u64,
                };
                Some((Frame::Chunk(&buf[..n]), n))
            }
        }
    }

    fn command<'b>(&mut self, buf: &'b [u8]) -> Option<(Frame<'b>, usize)> {
        if buf.is_empty() {
            return None;
        }
        if self.discarding {
            return Some(match memchr(b'\n', buf) {
                Some(i) => {
                    self.discarding = false;
                    (Frame::Discard, i + 1)
                }
                None => (Frame::Discard, buf.len()),
            });
        }
        let Some(i) = memchr(b'\n', buf) else {
            if buf.len() > self.max_line + 1 {
                self.discarding = true;
                return Some((Frame::TooLong, buf.len()));
            }
            return None;
        };
        let (line, ending) = match buf[..i].strip_suffix(b"\r") {
            Some(l) => (l, Ending::CrLf),
            None => (&buf[..i], Ending::BareLf),
        };
        if line.len() > self.max_line {
            return Some((Frame::TooLong, i + 1));
        }
        let bare_cr = memchr(b'\r', line).is_some();
        Some((
            Frame::Line {
                line,
                ending,
                bare_cr,
            },
            i + 1,
        ))
    }

    fn data<'b>(&mut self, buf: &'b [u8]) -> Option<(Frame<'b>, usize)> {
        if buf.is_empty() {
            return None;
        }
        let dot = self.at_line_start && buf[0] == b'.';
        let skip = usize::from(dot);
        let Some(i) = memchr(b'\n', buf) else {
            if buf.len() < self.max_line {
                return None;
            }
            // A long line: pass it on in pieces, holding back a final CR
            // that may be half of the CRLF.
            let mut n = buf.len();
            if buf[n - 1] == b'\r' {
                n -= 1;
            }
            if dot {
                self.dot_cr = buf.get(1) == Some(&b'\r');
            }
            self.at_line_start = false;
            let flags = DataFlags {
                bare_cr: has_bare_cr(&buf[..n]),
                ..DataFlags::default()
            };
            return Some((
                Frame::Data {
                    bytes: &buf[skip..n],
                    flags,
                },
                n,
            ));
        };
        let line = &buf[..=i];
        let bare_lf = i == 0 || buf[i - 1] != b'\r';
        if !dot && !bare_lf && !has_bare_cr(line) {
            let end = i + 1 + plain_run(&buf[i + 1..]);
            self.at_line_start = true;
            self.prev_bare = false;
            self.dot_cr = false;
            return Some((
                Frame::Data {
                    bytes: &buf[..end],
                    flags: DataFlags::default(),
                },
                end,
            ));
        }
        if dot && line == b".\r\n" && !self.prev_bare {
            self.set_mode(Mode::Command);
            return Some((Frame::DataEnd, 3));
        }
        // A line that came in pieces is judged by how it began, as if whole.
        let began_dot_cr = std::mem::take(&mut self.dot_cr);
        let dot_line = dot
            && (line == b".\r\n" || line == b".\n" || line.starts_with(b".\r") && bare_lf)
            || began_dot_cr && bare_lf;
        let flags = DataFlags {
            bare_lf,
            bare_cr: has_bare_cr(line),
            smuggling: dot_line,
        };
        self.at_line_start = true;
        self.prev_bare = bare_lf;
        Some((
            Frame::Data {
                bytes: &line[skip..],
                flags,
            },
            i + 1,
        ))
    }
}

#[cfg(test)]
#[path = "framer_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "framer_props.rs"]
mod props;
