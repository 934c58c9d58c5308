//! SMTP command parsing (RFC 5321 §4.1 with ESMTP parameters), zero-copy.
//!
//! Liberal where real servers are (`MAIL FROM: <a@b>`, missing angle
//! brackets) but every such tolerance is reported as a [`Deviations`] flag so
//! the transcript can tell a developer their client is sloppy.

/// The command verbs, used to count occurrences per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Verb {
    /// `EHLO`
    Ehlo,
    /// `HELO`
    Helo,
    /// `MAIL FROM`
    Mail,
    /// `RCPT TO`
    Rcpt,
    /// `DATA`
    Data,
    /// `BDAT` (RFC 3030)
    Bdat,
    /// `RSET`
    Rset,
    /// `NOOP`
    Noop,
    /// `QUIT`
    Quit,
    /// `VRFY`
    Vrfy,
    /// `EXPN`
    Expn,
    /// `HELP`
    Help,
    /// `STARTTLS` (RFC 3207)
    StartTls,
    /// `AUTH` (RFC 4954)
    Auth,
}

impl Verb {
    /// How many verbs there are.
    pub const COUNT: usize = 14;
    const ALL: [Verb; Self::COUNT] = [
        Verb::Ehlo,
        Verb::Helo,
        Verb::Mail,
        Verb::Rcpt,
        Verb::Data,
        Verb::Bdat,
        Verb::Rset,
        Verb::Noop,
        Verb::Quit,
        Verb::Vrfy,
        Verb::Expn,
        Verb::Help,
        Verb::StartTls,
        Verb::Auth,
    ];

    /// The verb as written on the wire, upper case.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
        }
    }

    fn from_bytes(word: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.name().as_bytes().eq_ignore_ascii_case(word))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ret {
    Full,
    Hdrs,
}

/// DSN `NOTIFY=`: `NEVER`, or any of success/failure/delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notify {
    Never,
    On {
        success: bool,
        failure: bool,
        delay: bool,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MailParams<'a> {
    pub raw: &'a str,
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    pub envid: Option<&'a str>,
    pub auth: Option<&'a str>,
    /// The first parameter keyword we do not know.
    pub unknown: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RcptParams<'a> {
    pub raw: &'a str,
    pub notify: Option<Notify>,
    pub orcpt: Option<&'a str>,
    pub unknown: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    Ehlo(&'a str),
    Helo(&'a str),
    Mail {
        from: &'a str,
        params: MailParams<'a>,
    },
    Rcpt {
        to: &'a str,
        params: RcptParams<'a>,
    },
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(&'a str),
    Expn(&'a str),
    Help(Option<&'a str>),
    StartTls,
    Auth {
        mechanism: &'a str,
        initial: Option<&'a str>,
    },
}

impl Command<'_> {
    pub(crate) fn verb(&self) -> Verb {
        match self {
            Command::Ehlo(_) => Verb::Ehlo,
            Command::Helo(_) => Verb::Helo,
            Command::Mail { .. } => Verb::Mail,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Data => Verb::Data,
            Command::Bdat { .. } => Verb::Bdat,
            Command::Rset => Verb::Rset,
            Command::Noop => Verb::Noop,
            Command::Quit => Verb::Quit,
            Command::Vrfy(_) => Verb::Vrfy,
            Command::Expn(_) => Verb::Expn,
            Command::Help(_) => Verb::Help,
            Command::StartTls => Verb::StartTls,
            Command::Auth { .. } => Verb::Auth,
        }
    }
}

use super::address;

/// Tolerated departures from RFC 5321 syntax, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deviations(u8);

impl Deviations {
    pub(crate) const SPACE_AFTER_COLON: u8 = 1;
    pub(crate) const NO_ANGLE_BRACKETS: u8 = 2;
    pub(crate) const TRAILING_WHITESPACE: u8 = 4;
    pub(crate) const EXTRA_SPACES: u8 = 8;
    pub(crate) const TAB_SEPARATOR: u8 = 16;

    pub(crate) const NAMES: [(u8, &'static str); 5] = [
        (
            Self::SPACE_AFTER_COLON,
            "space after the colon in MAIL FROM:/RCPT TO: (RFC 5321 allows none)",
        ),
        (Self::NO_ANGLE_BRACKETS, "address without angle brackets"),
        (
            Self::TRAILING_WHITESPACE,
            "trailing whitespace after the command",
        ),
        (
            Self::EXTRA_SPACES,
            "more than one space between command parts",
        ),
        (
            Self::TAB_SEPARATOR,
            "TAB instead of a space after the command verb",
        ),
    ];

    pub(crate) fn contains(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    /// Human descriptions of the flags that are set, for the transcript.
    pub(crate) fn iter(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, d)| d)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    pub command: Command<'a>,
    pub deviations: Deviations,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// 500 5.5.2
    UnknownCommand,
    /// 501 5.5.4
    Syntax(&'static str),
    /// 501 5.5.4
    BadParameter(&'static str),
    /// 555 5.5.4: a known parameter in a form this server does not
    /// implement (`BODY=FOO`, `SMTPUTF8=x`, `SIZE` without a value), like
    /// an unknown one (RFC 5321 §4.1.1.11). Names the parameter.
    Unsupported(&'static str),
    /// 501 5.1.7: the reverse-path of MAIL is not valid syntax.
    BadSender(&'static str),
    /// 501 5.1.3: the forward-path of RCPT is not valid syntax.
    BadRecipient(&'static str),
    /// 501 5.5.4 for a BDAT whose size could be read but whose other
    /// arguments are wrong: the chunk of `size` octets still follows and
    /// must be read and discarded (RFC 3030 §2), not taken for commands.
    BadBdat {
        /// The chunk size the line announced.
        size: u64,
        /// What is wrong with the rest.
        why: &'static str,
    },
}

use ParseError::{BadParameter, BadRecipient, BadSender, Syntax, Unsupported};

pub(crate) fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    // RFC 5321 §4.1.1: trailing white space, TAB included, is tolerated.
    let verb_end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let verb = Verb::from_bytes(&line[..verb_end]).ok_or(ParseError::UnknownCommand)?;
    let rest = &line[verb_end..];
    if rest.contains(&0) {
        return Err(Syntax("NUL byte in command"));
    }
    let rest =
        std::str::from_utf8(rest).map_err(|_| Syntax("command arguments are not valid UTF-8"))?;
    let mut dev = Deviations::default();
    if rest.ends_with([' ', '\t']) {
        dev.0 |= Deviations::TRAILING_WHITESPACE;
    }
    let arg = rest.trim_matches([' ', '\t']);
    if rest.starts_with("  ") {
        dev.0 |= Deviations::EXTRA_SPACES;
    }
    if rest.starts_with('\t') && !arg.is_empty() {
        dev.0 |= Deviations::TAB_SEPARATOR;
    }
    let no_arg = |c: Command<'static>| {
        if arg.is_empty() {
            Ok(c)
        } else {
            Err(Syntax("this command takes no arguments"))
        }
    };
    let command = match verb {
        Verb::Ehlo | Verb::Helo => {
            if arg.is_empty() {
                return Err(Syntax("EHLO/HELO requires a domain or address literal"));
            }
            if verb == Verb::Ehlo {
                Command::Ehlo(arg)
            } else {
                Command::Helo(arg)
            }
        }
        Verb::Mail => {
            let (from, params) = path_and_params(arg, "FROM:", &mut dev)
                .ok_or(Syntax("MAIL requires FROM:<address>"))?;
            let from = from.map_err(BadSender)?;
            // `MAIL FROM:` with nothing after the colon has no reverse-path;
            // the null sender is written `<>`.
            if from.is_empty() && dev.contains(Deviations::NO_ANGLE_BRACKETS) {
                return Err(BadSender(
                    "MAIL requires a reverse-path (<> for the null sender)",
                ));
            }
            if !from.is_empty() {
                address::check_mailbox(from).map_err(BadSender)?;
            }
            Command::Mail {
                from,
                params: mail_params(params)?,
            }
        }
        Verb::Rcpt => {
            let (to, params) = path_and_params(arg, "TO:", &mut dev)
                .ok_or(Syntax("RCPT requires TO:<address>"))?;
            let to = to.map_err(BadRecipient)?;
            if to.is_empty() {
                return Err(BadRecipient("RCPT requires a non-empty address"));
            }
            // §4.1.1.3: `<Postmaster>` without a domain must be accepted.
            if !to.eq_ignore_ascii_case("postmaster") {
                address::check_mailbox(to).map_err(BadRecipient)?;
            }
            Command::Rcpt {
                to,
                params: rcpt_params(params)?,
            }
        }
        Verb::Data => no_arg(Command::Data)?,
        Verb::Rset => no_arg(Command::Rset)?,
        Verb::Quit => no_arg(Command::Quit)?,
        Verb::StartTls => no_arg(Command::StartTls)?,
        Verb::Noop => Command::Noop,
        Verb::Help => Command::Help((!arg.is_empty()).then_some(arg)),
        Verb::Vrfy | Verb::Expn => {
            if arg.is_empty() {
                return Err(Syntax("VRFY/EXPN requires an argument"));
            }
            if verb == Verb::Vrfy {
                Command::Vrfy(arg)
            } else {
                Command::Expn(arg)
            }
        }
        Verb::Bdat => {
            let mut words = arg.split([' ', '\t']).filter(|w| !w.is_empty());
            let size = words
                .next()
                .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|w| w.parse().ok())
                .ok_or(BadParameter("BDAT requires a chunk size in octets"))?;
            let bad = ParseError::BadBdat {
                size,
                why: "BDAT takes only a size and LAST",
            };
            let last = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(bad),
            };
            if words.next().is_some() {
                return Err(bad);
            }
            Command::Bdat { size, last }
        }
        Verb::Auth => {
            let mut words = arg.split([' ', '\t']).filter(|w| !w.is_empty());
            let mechanism = words.next().ok_or(Syntax("AUTH requires a mechanism"))?;
            let initial = words.next();
            if words.next().is_some() {
                return Err(Syntax(
                    "AUTH takes a mechanism and an optional initial response",
                ));
            }
            Command::Auth { mechanism, initial }
        }
    };
    Ok(Parsed {
        command,
        deviations: dev,
    })
}

/// Splits `FROM:<path> params` into the mailbox and the parameter text;
/// `None` when the line has no recognisable path at all, an inner `Err`
/// when the path has one but its source route is bad.
fn path_and_params<'a>(
    arg: &'a str,
    keyword: &str,
    dev: &mut Deviations,
) -> Option<(Result<&'a str, &'static str>, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let mut rest = &arg[keyword.len()..];
    if rest.starts_with([' ', '\t']) {
        dev.0 |= Deviations::SPACE_AFTER_COLON;
        rest = rest.trim_start_matches([' ', '\t']);
    }
    // Past the keyword, whatever is wrong is wrong with the address: the
    // caller answers 501 5.1.7 (MAIL) or 501 5.1.3 (RCPT), as Postfix does.
    let bad = |why| Some((Err(why), ""));
    let (path, params) = if rest.starts_with('<') {
        let Some(end) = path_end(rest) else {
            return bad("unterminated <address>");
        };
        (&rest[1..end], &rest[end + 1..])
    } else {
        dev.0 |= Deviations::NO_ANGLE_BRACKETS;
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        (&rest[..end], &rest[end..])
    };
    if !params.is_empty() && !params.starts_with([' ', '\t']) {
        return bad("text after the address's closing >");
    }
    let Some(mailbox) = strip_source_route(path) else {
        return bad("malformed source route");
    };
    if let Ok(m) = mailbox
        && !m.starts_with('"')
        && m.contains(['<', '>', ' ', '\t'])
    {
        return bad("malformed address");
    }
    Some((mailbox, params.trim_matches([' ', '\t'])))
}

/// Index of the `>` closing a path, skipping quoted strings.
fn path_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `@a,@b:user@d` becomes `user@d` (RFC 5321 §4.1.2: routes are ignored,
/// but their syntax is checked).
fn strip_source_route(path: &str) -> Option<Result<&str, &'static str>> {
    if !path.starts_with('@') {
        return Some(Ok(path));
    }
    let Some(colon) = path.find(':') else {
        return Some(Err("bad source route"));
    };
    // `Path = "<" [ A-d-l ":" ] Mailbox ">"`: a route needs a mailbox.
    let mailbox = &path[colon + 1..];
    if mailbox.is_empty() {
        return Some(Err("source route without a mailbox"));
    }
    Some(address::check_route(&path[..colon]).map(|()| mailbox))
}

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2), the
/// keyword checked: `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`. A control
/// character anywhere is a syntax error too (esmtp-value is %d33-126,
/// widened to UTF-8 by RFC 6531); an empty value is left for the known
/// parameters to refuse, so an unknown one still gets 555.
fn params_iter(raw: &str) -> impl Iterator<Item = Result<(&str, Option<&str>), ParseError>> {
    // Separated by SP (and the TAB tolerated elsewhere) only: a CR or FF
    // between parameters is a control character, not a separator.
    raw.split([' ', '\t']).filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        let keyword_ok = k.starts_with(|c: char| c.is_ascii_alphanumeric())
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !keyword_ok {
            return Err(BadParameter("malformed parameter keyword"));
        }
        if v.is_some_and(|v| v.chars().any(|c| c.is_control())) {
            return Err(BadParameter("control character in parameter value"));
        }
        Ok((k, v))
    })
}

/// RFC 3461 §4: `xtext = *( xchar / hexchar )`, `xchar` being `!` to `~`
/// except `+` and `=`, `hexchar = "+" 2(DIGIT / %x41-46)`.
fn is_xtext(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex =
                    |x: Option<&u8>| x.is_some_and(|x| matches!(x, b'0'..=b'9' | b'A'..=b'F'));
                if !(hex(b.get(i + 1)) && hex(b.get(i + 2))) {
                    return false;
                }
                i += 3;
            }
            b'=' => return false,
            b'!'..=b'~' => i += 1,
            _ => return false,
        }
    }
    true
}

fn xtext<'a>(v: Option<&'a str>, what: &'static str) -> Result<&'a str, ParseError> {
    v.filter(|v| !v.is_empty()).ok_or(BadParameter(what))
}

fn mail_params(raw: &str) -> Result<MailParams<'_>, ParseError> {
    let mut p = MailParams {
        raw,
        ..MailParams::default()
    };
    for param in params_iter(raw) {
        let (key, value) = param?;
        let k = key.to_ascii_uppercase();
        let dup = || BadParameter("parameter given twice");
        match k.as_str() {
            "SIZE" => {
                // RFC 1870: size-value = 1*20DIGIT. Twenty digits can
                // exceed u64; such a size is simply too big (552 later).
                let Some(value) = value else {
                    return Err(Unsupported("SIZE"));
                };
                let v = Some(value)
                    .filter(|v| {
                        (1..=20).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .map(|v| v.parse().unwrap_or(u64::MAX))
                    .ok_or(BadParameter("SIZE must be a number of octets"))?;
                if p.size.replace(v).is_some() {
                    return Err(dup());
                }
            }
            "BODY" => {
                let v = match value.map(str::to_ascii_uppercase).as_deref() {
                    Some("7BIT") => Body::SevenBit,
                    Some("8BITMIME") => Body::EightBitMime,
                    Some("BINARYMIME") => Body::BinaryMime,
                    _ => return Err(Unsupported("BODY")),
                };
                if p.body.replace(v).is_some() {
                    return Err(dup());
                }
            }
            "SMTPUTF8" => {
                if value.is_some() {
                    return Err(Unsupported("SMTPUTF8"));
                }
                if std::mem::replace(&mut p.smtputf8, true) {
                    return Err(dup());
                }
            }
            "RET" => {
                let v = match value.map(str::to_ascii_uppercase).as_deref() {
                    Some("FULL") => Ret::Full,
                    Some("HDRS") => Ret::Hdrs,
                    _ => return Err(BadParameter("RET must be FULL or HDRS")),
                };
                if p.ret.replace(v).is_some() {
                    return Err(dup());
                }
            }
            "ENVID" => {
                let v = xtext(value, "ENVID needs a value")?;
                if !is_xtext(v) {
                    return Err(BadParameter("ENVID must be xtext (RFC 3461 §4)"));
                }
                if p.envid.replace(v).is_some() {
                    return Err(dup());
                }
            }
            "AUTH" => {
                if p.auth
                    .replace(xtext(value, "AUTH= needs a value")?)
                    .is_some()
                {
                    return Err(dup());
                }
            }
            _ => {
                p.unknown.get_or_insert(key);
            }
        }
    }
    Ok(p)
}

/// The DSN parameters of a stored RCPT TO (`NOTIFY=`, `ORCPT=`), read back
/// from the parameters as sent; `None` when they do not parse.
pub(crate) fn recipient_dsn(raw: &str) -> Option<(Option<Notify>, Option<&str>)> {
    rcpt_params(raw).ok().map(|p| (p.notify, p.orcpt))
}

/// The DSN parameters of a stored MAIL FROM (`RET=`, `ENVID=`).
pub(crate) fn sender_dsn(raw: &str) -> Option<(Option<Ret>, Option<&str>)> {
    mail_params(raw).ok().map(|p| (p.ret, p.envid))
}

fn rcpt_params(raw: &str) -> Result<RcptParams<'_>, ParseError> {
    let mut p = RcptParams {
        raw,
        ..RcptParams::default()
    };
    for param in params_iter(raw) {
        let (key, value) = param?;
        match key.to_ascii_uppercase().as_str() {
            "NOTIFY" => {
                let v = value.ok_or(BadParameter("NOTIFY needs a value"))?;
                let n = if v.eq_ignore_ascii_case("NEVER") {
                    Notify::Never
                } else {
                    // RFC 3461 §4.1: "NEVER" / 1#notify-list-element. The
                    // `#` list is RFC 822's (§2.7): empty elements are
                    // allowed and not counted, but one must be there.
                    let (mut success, mut failure, mut delay) = (false, false, false);
                    if v.split(',').all(str::is_empty) {
                        return Err(BadParameter(
                            "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY",
                        ));
                    }
                    for word in v.split(',').filter(|w| !w.is_empty()) {
                        let flag = match word.to_ascii_uppercase().as_str() {
                            "SUCCESS" => &mut success,
                            "FAILURE" => &mut failure,
                            "DELAY" => &mut delay,
                            _ => {
                                return Err(BadParameter(
                                    "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY",
                                ));
                            }
                        };
                        *flag = true;
                    }
                    Notify::On {
                        success,
                        failure,
                        delay,
                    }
                };
                if p.notify.replace(n).is_some() {
                    return Err(BadParameter("parameter given twice"));
                }
            }
            "ORCPT" => {
                // RFC 3461 §4.2: addr-type ";" xtext, addr-type an atom;
                // the xtext may be empty.
                let Some(value) = value else {
                    return Err(Unsupported("SIZE"));
                };
                let v = Some(value)
                    .filter(|v| {
                        v.split_once(';').is_some_and(|(t, a)| {
                            !t.is_empty()
                                && t.bytes().all(|b| {
                                    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
                                })
                                && is_xtext(a)
                        })
                    })
                    .ok_or(BadParameter("ORCPT must be addr-type;xtext"))?;
                if p.orcpt.replace(v).is_some() {
                    return Err(BadParameter("parameter given twice"));
                }
            }
            _ => {
                p.unknown.get_or_insert(key);
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "command_props.rs"]
mod props;
