//! Maildir delivery: write into `tmp/`, fsync, rename into `new/`, the
//! sequence that makes a message either fully there or absent, done before
//! the client hears 250.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub(super) struct Maildir {
    root: PathBuf,
    counter: AtomicU64,
}

impl Maildir {
    /// Creates `tmp/`, `new/` and `cur/` under `root` when missing.
    pub(super) fn open(root: &Path) -> std::io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// Writes one message and returns its path in `new/`. Blocking: call it
    /// off the async threads.
    pub(super) fn deliver(&self, id: u64, parts: &[&[u8]]) -> std::io::Result<PathBuf> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.M{}P{}Q{}I{}.mailfault",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            n,
            id
        );
        let tmp = self.root.join("tmp").join(&name);
        let new = self.root.join("new").join(&name);
        let result = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()?;
            fs::rename(&tmp, &new)?;
            File::open(self.root.join("new"))?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_into_new_and_leaves_tmp_empty() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(dir.path()).unwrap();
        let path = md
            .deliver(1, &[b"Received: x\r\n", b"Subject: hi\r\n\r\nbody\r\n"])
            .unwrap();
        assert!(path.starts_with(dir.path().join("new")));
        assert_eq!(
            fs::read(&path).unwrap(),
            b"Received: x\r\nSubject: hi\r\n\r\nbody\r\n"
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
