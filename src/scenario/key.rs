//! Keys of stateful rules: what "the same client" means to a greylist or a
//! rate limit (`key: [client_ip, from, to]`, `key: client_ip/24`, `global`).

use std::fmt::Write;
use std::net::IpAddr;

use crate::proto::policy::Context;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyPart {
    /// The client address, cut to a network prefix per family.
    ClientIp {
        v4: u8,
        v6: u8,
    },
    From,
    To,
}

/// The parts that identify one counter; empty means one global counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Key(pub Vec<KeyPart>);

impl KeyPart {
    /// `client_ip`, `client_ip/N`, `from`, `to`. A prefix of 32 or less is
    /// an IPv4 network and IPv6 clients are then grouped by /64 (as most
    /// greylisters do); a larger one is an IPv6 prefix, IPv4 staying whole.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "client_ip" => return Some(KeyPart::ClientIp { v4: 32, v6: 128 }),
            "from" => return Some(KeyPart::From),
            "to" => return Some(KeyPart::To),
            _ => {}
        }
        let prefix: u8 = t.strip_prefix("client_ip/")?.parse().ok()?;
        match prefix {
            0..=32 => Some(KeyPart::ClientIp { v4: prefix, v6: 64 }),
            33..=128 => Some(KeyPart::ClientIp { v4: 32, v6: prefix }),
            _ => None,
        }
    }
}

impl Key {
    /// The default greylisting triplet (RFC 6647 §2.2).
    pub(crate) fn triplet() -> Self {
        Key(vec![
            KeyPart::ClientIp { v4: 32, v6: 128 },
            KeyPart::From,
            KeyPart::To,
        ])
    }

    pub(crate) fn uses(&self, part: fn(&KeyPart) -> bool) -> bool {
        self.0.iter().any(part)
    }

    /// Writes the key's value for this context into `out` (cleared first).
    /// Addresses are compared case-insensitively; outside `rcpt`, `to`
    /// stands for every recipient accepted so far.
    pub(crate) fn render(&self, ctx: &Context<'_>, out: &mut String) {
        out.clear();
        for part in &self.0 {
            match *part {
                KeyPart::ClientIp { v4, v6 } => {
                    let _ = write!(out, "{}", masked(ctx.client_ip, v4, v6));
                }
                KeyPart::From => push_lower(out, ctx.from.unwrap_or("")),
                KeyPart::To => match ctx.to {
                    Some(to) => push_lower(out, to),
                    None => {
                        for (i, r) in ctx.recipients.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            push_lower(out, &r.address);
                        }
                    }
                },
            }
            out.push('\0');
        }
    }
}

fn push_lower(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
}

fn masked(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = u32::MAX
                .checked_shl(32 - u32::from(v4.min(32)))
                .unwrap_or(0);
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::policy::Stage;
    use crate::proto::transaction::Recipient;

    fn ctx<'a>(ip: &str, to: Option<&'a str>, recipients: &'a [Recipient]) -> Context<'a> {
        Context {
            stage: Stage::Rcpt,
            client_ip: ip.parse().unwrap(),
            helo: None,
            from: Some("App@Example.test"),
            to,
            recipients,
            tls: false,
            auth_user: None,
            connection: 1,
            command: 1,
            message: None,
        }
    }

    #[test]
    fn parts_parse() {
        let cases = [
            ("client_ip", Some(KeyPart::ClientIp { v4: 32, v6: 128 })),
            ("client_ip/24", Some(KeyPart::ClientIp { v4: 24, v6: 64 })),
            ("CLIENT_IP/48", Some(KeyPart::ClientIp { v4: 32, v6: 48 })),
            ("client_ip/129", None),
            ("client_ip/", None),
            ("from", Some(KeyPart::From)),
            ("to", Some(KeyPart::To)),
            ("helo", None),
        ];
        for (text, want) in cases {
            assert_eq!(KeyPart::parse(text), want, "{text}");
        }
    }

    #[test]
    fn render_masks_and_lowercases() {
        let mut out = String::new();
        let key = Key(vec![
            KeyPart::parse("client_ip/24").unwrap(),
            KeyPart::From,
            KeyPart::To,
        ]);
        key.render(&ctx("192.0.2.77", Some("X@Y.test"), &[]), &mut out);
        assert_eq!(out, "192.0.2.0\0app@example.test\0x@y.test\0");
        key.render(
            &ctx("2001:db8:1:2:3:4:5:6", Some("x@y.test"), &[]),
            &mut out,
        );
        assert!(out.starts_with("2001:db8:1:2::\0"), "{out}");
        let rcpts = [
            Recipient {
                address: "A@x".into(),
                params: String::new(),
            },
            Recipient {
                address: "b@x".into(),
                params: String::new(),
            },
        ];
        Key(vec![KeyPart::To]).render(&ctx("192.0.2.1", None, &rcpts), &mut out);
        assert_eq!(out, "a@x,b@x\0");
        Key::default().render(&ctx("192.0.2.1", None, &[]), &mut out);
        assert_eq!(out, "");
        let whole = Key(vec![KeyPart::parse("client_ip/0").unwrap()]);
        whole.render(&ctx("203.0.113.9", None, &[]), &mut out);
        assert_eq!(out, "0.0.0.0\0");
    }
}
