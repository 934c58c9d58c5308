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
}

impl Extension {
    pub(crate) const ALL: [Extension; 9] = [
        Extension::Pipelining,
        Extension::EightBitMime,
        Extension::SmtpUtf8,
        Extension::Size,
        Extension::EnhancedStatusCodes,
        Extension::Chunking,
        Extension::Dsn,
        Extension::StartTls,
        Extension::Auth,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Extensions(u16);

impl Extensions {
    pub(crate) const fn empty() -> Self {
        Self(0)
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
        self.0 & e.bit() != 0
    }

    pub(crate) fn insert(&mut self, e: Extension) {
        self.0 |= e.bit();
    }

    #[cfg(test)]
    pub(crate) fn remove(&mut self, e: Extension) {
        self.0 &= !e.bit();
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Extension> {
        Extension::ALL
            .into_iter()
            .filter(move |e| self.contains(*e))
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
}
