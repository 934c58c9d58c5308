//! Everything that belongs to one mail transaction (MAIL .. end of data).
//!
//! Kept as one value so that RSET, EHLO, a finished message or a TLS upgrade
//! reset it by dropping it: no field can be forgotten, and no buffer outlives
//! its message (a peer sink grew memory quadratically by never resetting one).

/// A recipient the server accepted, with its ESMTP parameters as sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipient {
    /// The path as given in RCPT TO, without brackets.
    pub address: String,
    /// Its ESMTP parameters as sent (`NOTIFY=...`).
    pub params: String,
}

/// The envelope and content of a finished message, handed to the store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub helo: Option<String>,
    pub mail_from: String,
    pub mail_params: String,
    pub recipients: Vec<Recipient>,
    /// `ESMTP`, `SMTP` or `ESMTPA` (later `ESMTPS`), for the Received header.
    pub protocol: &'static str,
    /// The user AUTH succeeded for, recorded with the message.
    pub auth_user: Option<String>,
    /// Content after dot-unstuffing (or BDAT chunks), exactly as received.
    pub content: Vec<u8>,
    /// Dot lines next to a bare LF or CR (SMTP smuggling attempts) seen in the content.
    pub smuggling_attempts: u32,
    pub bare_lf: bool,
    /// Reports the scenario planned for this message (`bounce:`, `complaint:`).
    pub followups: Vec<super::policy::Followup>,
}

/// How the message body is arriving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// No DATA/BDAT yet.
    None,
    Data,
    /// BDAT chunks; `failed` once one was rejected (the rest of the
    /// transaction's chunks are then refused, RFC 3030 §2).
    Chunks {
        failed: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Transaction {
    pub from: String,
    pub mail_params: String,
    /// MAIL carried SMTPUTF8: non-ASCII recipients are allowed (RFC 6531).
    pub utf8: bool,
    pub recipients: Vec<Recipient>,
    /// Attempted RCPTs, accepted or not: DATA with none is 503, with only
    /// rejected ones 554 (RFC 5321 §3.3).
    pub rcpt_attempts: usize,
    pub body: Body,
    pub content: Vec<u8>,
    /// Bytes received, counted even after `content` stopped growing.
    pub size: u64,
    pub too_big: bool,
    pub bare_lf: bool,
    pub smuggling: u32,
    /// `disconnect_after_bytes`: the connection is cut once `size` reaches it.
    pub cut_after: Option<u64>,
    /// MAIL said BODY=BINARYMIME: the content must come by BDAT.
    pub binary: bool,
    /// Reports planned by the rules that accepted its stages.
    pub followups: Vec<super::policy::Followup>,
}

impl Transaction {
    pub(crate) fn new(from: String, mail_params: String, utf8: bool) -> Self {
        Self {
            from,
            mail_params,
            utf8,
            recipients: Vec::new(),
            rcpt_attempts: 0,
            body: Body::None,
            content: Vec::new(),
            size: 0,
            too_big: false,
            bare_lf: false,
            smuggling: 0,
            cut_after: None,
            binary: false,
            followups: Vec::new(),
        }
    }

    /// Appends content unless the limit is passed; past it, only counts, so a
    /// client sending an oversized message cannot make the server buffer it.
    pub(crate) fn append(&mut self, bytes: &[u8], limit: u64) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size > limit {
            self.too_big = true;
            self.content = Vec::new();
        } else if !self.too_big {
            self.content.extend_from_slice(bytes);
        }
    }

    /// Whether `disconnect_after_bytes` says the connection must go now.
    pub(crate) fn must_cut(&self) -> bool {
        self.cut_after.is_some_and(|n| self.size >= n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_stops_buffering_past_the_limit() {
        let mut tx = Transaction::new("a@b".into(), String::new(), false);
        tx.append(b"12345", 8);
        assert_eq!(tx.content, b"12345");
        tx.append(b"6789", 8);
        assert!(tx.too_big);
        assert!(tx.content.is_empty());
        tx.append(b"more", 8);
        assert!(tx.content.is_empty());
        assert_eq!(tx.size, 13);
    }
}
