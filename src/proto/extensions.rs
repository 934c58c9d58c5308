//! The ESMTP extensions a session advertises, as a small bit set: checked on
//! every command, so it must be cheap to copy and test.

/// One advertisable extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Extension {
    Pipelining,
    EightBitMime,
    SmtpUtf8,
    Size,
    EnhancedStatusCodes,
    Chunking,
    Dsn,
    StartTls,
    Auth,
    /// RFC 3030 binary content: only with CHUNKING, and such a message
    /// must come by BDAT.
    BinaryMime,
}

impl Extension {
    pub(crate) const ALL: [Extension; 10] = [
        Extension::Pipelining,
        Extension::EightBitMime,
        Extension::SmtpUtf8,
        Extension::Size,
        Extension::EnhancedStatusCodes,
        Extension::Chunking,
        Extension::Dsn,
        Extension::StartTls,
        Extension::Auth,
        Extension::BinaryMime,
    ];

    /// The EHLO keyword (also the name used in scenario files).
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Extension::Pipelining => "PIPELINING",
            Extension::EightBitMime => "8BITMIME",
            Extension::SmtpUtf8 => "SMTPUTF8",
            Extension::Size => "SIZE",
            Extension::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Extension::Chunking => "CHUNKING",
            Extension::Dsn => "DSN",
            Extension::StartTls => "STARTTLS",
            Extension::Auth => "AUTH",
            Extension::BinaryMime => "BINARYMIME",
        }
    }

    pub(crate) fn from_keyword(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.keyword().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of extensions that remembers the order they were added in: EHLO
/// advertises them in that order, as a profile's YAML lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Extensions {
    bits: u16,
    /// Indexes into [`Extension::ALL`], in insertion order; `len` are used.
    order: [u8; Extension::ALL.len()],
    len: u8,
}

impl Extensions {
    pub(crate) const fn empty() -> Self {
        Self {
            bits: 0,
            order: [0; Extension::ALL.len()],
            len: 0,
        }
    }

    /// What a plain sink advertises: everything that needs no TLS or AUTH setup.
    pub(crate) fn default_set() -> Self {
        [
            Extension::Pipelining,
            Extension::EightBitMime,
            Extension::SmtpUtf8,
            Extension::Size,
            Extension::EnhancedStatusCodes,
            Extension::Chunking,
            Extension::Dsn,
        ]
        .into_iter()
        .collect()
    }

    pub(crate) fn contains(self, e: Extension) -> bool {
        self.bits & e.bit() != 0
    }

    /// Adds `e` at the end of the order, unless it is there already.
    pub(crate) fn insert(&mut self, e: Extension) {
        if self.contains(e) {
            return;
        }
        self.bits |= e.bit();
        self.order[usize::from(self.len)] = e as u8;
        self.len += 1;
    }

    #[cfg(test)]
    pub(crate) fn remove(&mut self, e: Extension) {
        if !self.contains(e) {
            return;
        }
        *self = self.iter().filter(|x| *x != e).collect();
    }

    /// In the order they were added.
    pub(crate) fn iter(self) -> impl Iterator<Item = Extension> {
        (0..usize::from(self.len)).map(move |i| Extension::ALL[usize::from(self.order[i])])
    }
}

impl FromIterator<Extension> for Extensions {
    fn from_iter<I: IntoIterator<Item = Extension>>(iter: I) -> Self {
        let mut set = Self::empty();
        for e in iter {
            set.insert(e);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for e in Extension::ALL {
            assert_eq!(Extension::from_keyword(e.keyword()), Some(e));
            assert_eq!(
                Extension::from_keyword(&e.keyword().to_lowercase()),
                Some(e)
            );
        }
        assert_eq!(Extension::from_keyword("XFOO"), None);
    }

    #[test]
    fn default_set_has_no_tls_or_auth() {
        let set = Extensions::default_set();
        assert!(set.contains(Extension::Pipelining));
        assert!(!set.contains(Extension::StartTls));
        assert!(!set.contains(Extension::Auth));
        assert_eq!(set.iter().count(), 7);
    }

    #[test]
    fn iteration_keeps_the_order_of_insertion() {
        let set: Extensions = [
            Extension::Size,
            Extension::Pipelining,
            Extension::Dsn,
            Extension::Size,
            Extension::EightBitMime,
        ]
        .into_iter()
        .collect();
        let got: Vec<_> = set.iter().collect();
        assert_eq!(
            got,
            [
                Extension::Size,
                Extension::Pipelining,
                Extension::Dsn,
                Extension::EightBitMime
            ]
        );
        let mut less = set;
        less.remove(Extension::Pipelining);
        assert_eq!(less.iter().count(), 3);
        assert!(!less.contains(Extension::Pipelining));
    }
}
