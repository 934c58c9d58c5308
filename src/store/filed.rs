//! Bounce and complaint reports as every instance lists them.
//!
//! The outbox of the instance that took a message plans, builds and
//! delivers its reports; each change of a report is filed here through the
//! store's journal, so the API, the page and the verdicts of every instance
//! read the same reports. Bounded like the outbox: the oldest go first.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::reports::outbox::View;

/// Reports kept at most, and bytes of built reports.
const MAX_REPORTS: usize = crate::reports::outbox::MAX_REPORTS;
const MAX_BYTES: usize = crate::reports::outbox::MAX_REPORT_BYTES;

/// One report: where it stands, and its bytes once built.
#[derive(Debug, Clone)]
pub(crate) struct Filed {
    pub view: View,
    pub raw: Option<Arc<[u8]>>,
}

/// The reports, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Shelf {
    reports: VecDeque<Arc<Filed>>,
    bytes: usize,
}

impl Shelf {
    /// Files a report or its new state; an update without bytes keeps the
    /// bytes already filed. Returns what is now filed.
    pub(crate) fn file(&mut self, filed: Filed) -> Arc<Filed> {
        let at = self.reports.iter().position(|r| r.view.id == filed.view.id);
        let kept = at.and_then(|i| self.reports.remove(i));
        let raw = filed
            .raw
            .or_else(|| kept.as_ref().and_then(|k| k.raw.clone()));
        if let Some(k) = &kept {
            self.bytes -= k.raw.as_ref().map_or(0, |r| r.len());
        }
        self.bytes += raw.as_ref().map_or(0, |r| r.len());
        let filed = Arc::new(Filed {
            view: filed.view,
            raw,
        });
        match at {
            Some(i) => self.reports.insert(i, Arc::clone(&filed)),
            None => self.reports.push_back(Arc::clone(&filed)),
        }
        while self.reports.len() > MAX_REPORTS || (self.bytes > MAX_BYTES && self.reports.len() > 1)
        {
            if let Some(gone) = self.reports.pop_front() {
                self.bytes -= gone.raw.as_ref().map_or(0, |r| r.len());
            }
        }
        filed
    }

    pub(crate) fn all(&self) -> Vec<Arc<Filed>> {
        self.reports.iter().cloned().collect()
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<Filed>> {
        self.reports.iter().find(|r| r.view.id == id).cloned()
    }

    pub(crate) fn clear(&mut self) {
        self.reports.clear();
        self.bytes = 0;
    }
}
