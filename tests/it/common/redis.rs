//! A private Redis for the scale-out tests: Debian's `redis-server` on a
//! free loopback port, no persistence, its own directory, stopped by PID.
//! Where it is missing the tests say "skipped" loudly, and fail instead when
//! `MAILFAULT_REDIS_TESTS=require` (as `.ci/run` sets).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// Every write in an append-only file, synced before the reply, so a
    /// restart keeps what Redis acknowledged.
    durable: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn binary() -> Option<PathBuf> {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Redis {
    /// Starts a private Redis, or `None` (after saying so) when the tests
    /// may be skipped.
    pub(crate) fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// Like [`Redis::start`], with an append-only file synced on every
    /// write (`appendfsync always`): what survives a restart.
    pub(crate) fn start_durable() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Option<Self> {
        let Some(bin) = binary() else {
            let required = std::env::var("MAILFAULT_REDIS_TESTS").as_deref() == Ok("require");
            assert!(
                !required,
                "MAILFAULT_REDIS_TESTS=require but redis-server is not installed"
            );
            eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
            return None;
        };
        let mut redis = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("a temp dir"),
            durable,
        };
        redis.spawn(&bin);
        Some(redis)
    }

    fn spawn(&mut self, bin: &std::path::Path) {
        let child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly"])
            .arg(if self.durable { "yes" } else { "no" })
            .args(["--appendfsync", "always"])
            .args(["--protected-mode", "yes", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops it (an outage); [`Redis::restart`] brings it back on the same port.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Some(bin) = binary() {
            self.spawn(&bin);
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
