//! The `Received:` trace header (RFC 5321 §4.4) prepended to each message,
//! and the RFC 5322 date it carries. Pure functions: the caller passes time.

use std::net::IpAddr;

use crate::proto::reply::decimal;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the trace header records about one delivery.
pub(crate) struct Trace<'a> {
    pub helo: Option<&'a str>,
    pub client_ip: IpAddr,
    pub hostname: &'a str,
    pub protocol: &'a str,
    pub id: u64,
    /// Named in a `for` clause only when there is exactly one recipient, so
    /// the header never discloses Bcc recipients to each other.
    pub single_recipient: Option<&'a str>,
    pub at: SystemTime,
}

pub(crate) fn header(t: &Trace<'_>) -> String {
    let helo = t.helo.unwrap_or("unknown");
    let mut h = String::with_capacity(160 + helo.len() + t.hostname.len());
    h.push_str("Received: from ");
    h.push_str(helo);
    h.push_str(" ([");
    match t.client_ip {
        IpAddr::V4(v4) => push_ipv4(&mut h, v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => push_ipv4(&mut h, v4),
            None => {
                h.push_str("IPv6:");
                h.push_str(&v6.to_string());
            }
        },
    }
    h.push_str("])\r\n\tby ");
    h.push_str(t.hostname);
    h.push_str(" (mailfault) with ");
    h.push_str(t.protocol);
    h.push_str(" id ");
    push_number(&mut h, t.id);
    if let Some(rcpt) = t.single_recipient {
        h.push_str("\r\n\tfor <");
        h.push_str(rcpt);
        h.push('>');
    }
    h.push_str(";\r\n\t");
    DATE.with_borrow_mut(|cache| h.push_str(cache.at(t.at)));
    h.push_str("\r\n");
    h
}

/// Decimal digits without the formatting machinery: this header is built
/// for every message.
fn push_number(out: &mut String, n: u64) {
    out.push_str(decimal(n, &mut [0u8; 20]));
}

fn push_ipv4(out: &mut String, ip: std::net::Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_number(out, u64::from(octet));
    }
}

/// The date of the last second a header was built in, per thread: a busy
/// server writes many headers a second and formats the date once.
struct DateCache {
    second: Option<u64>,
    text: String,
}

impl DateCache {
    fn at(&mut self, at: SystemTime) -> &str {
        let second = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.second != Some(second) {
            self.text = rfc5322_date(at);
            self.second = Some(second);
        }
        &self.text
    }
}

thread_local! {
    static DATE: std::cell::RefCell<DateCache> = const {
        std::cell::RefCell::new(DateCache { second: None, text: String::new() })
    };
}

/// `Sun, 22 Nov 2026 13:41:59 +0000`, always in UTC.
pub(crate) fn rfc5322_date(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[(days.rem_euclid(7)) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic
/// Gregorian; Howard Hinnant's well-known algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_795_354_919, "Sun, 22 Nov 2026 13:41:59 +0000"),
        ];
        for (secs, want) in cases {
            assert_eq!(rfc5322_date(UNIX_EPOCH + Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn header_names_single_recipient_only() {
        let mut t = Trace {
            helo: Some("client.test"),
            client_ip: "127.0.0.1".parse().unwrap(),
            hostname: "mx.test",
            protocol: "ESMTP",
            id: 7,
            single_recipient: Some("a@b.test"),
            at: UNIX_EPOCH,
        };
        assert_eq!(
            header(&t),
            "Received: from client.test ([127.0.0.1])\r\n\tby mx.test (mailfault) with ESMTP id 7\r\n\tfor <a@b.test>;\r\n\tThu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
        t.single_recipient = None;
        t.client_ip = "::1".parse().unwrap();
        assert!(header(&t).starts_with("Received: from client.test ([IPv6:::1])\r\n\tby mx.test"));
        t.client_ip = "::ffff:10.200.3.45".parse().unwrap();
        t.id = 18_446_744_073_709_551_615;
        t.at = UNIX_EPOCH + Duration::from_secs(1_795_354_919);
        assert_eq!(
            header(&t),
            "Received: from client.test ([10.200.3.45])\r\n\tby mx.test (mailfault) with ESMTP id 18446744073709551615;\r\n\tSun, 22 Nov 2026 13:41:59 +0000\r\n"
        );
        // The cached date moves on with the clock.
        t.at += Duration::from_secs(1);
        assert!(header(&t).ends_with("13:42:00 +0000\r\n"));
    }
}
