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

/// A private three-node Redis Cluster (no replicas) on free loopback
/// ports, each node with its own directory, stopped by PID.
pub(crate) struct Cluster {
    nodes: Vec<Child>,
    pub ports: Vec<u16>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    /// Starts the nodes and joins them into one Cluster covering every
    /// slot, or `None` (after saying so) when the tests may be skipped.
    pub(crate) fn start() -> Option<Self> {
        let (Some(bin), Some(cli)) = (binary(), cli()) else {
            let required = std::env::var("MAILFAULT_REDIS_TESTS").as_deref() == Ok("require");
            assert!(
                !required,
                "MAILFAULT_REDIS_TESTS=require but redis-server or redis-cli is not installed"
            );
            eprintln!(
                "SKIPPED: redis-server or redis-cli is not installed (apt-get install redis-server)"
            );
            return None;
        };
        let mut cluster = Self {
            nodes: Vec::new(),
            ports: Vec::new(),
            _dirs: Vec::new(),
        };
        for _ in 0..3 {
            let (port, bus) = (free_port(), free_port());
            let dir = tempfile::tempdir().expect("a temp dir");
            let child = Command::new(&bin)
                .args(["--bind", "127.0.0.1", "--port"])
                .arg(port.to_string())
                .args(["--cluster-enabled", "yes", "--cluster-port"])
                .arg(bus.to_string())
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            cluster.nodes.push(child);
            cluster.ports.push(port);
            cluster._dirs.push(dir);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in &cluster.ports {
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(Instant::now() < deadline, "a Cluster node did not listen");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let created = Command::new(&cli)
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(created.success(), "redis-cli --cluster create failed");
        // Every node must know the whole slot map before a client asks.
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in &cluster.ports {
            loop {
                let info = Command::new(&cli)
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .expect("redis-cli runs");
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline, "the Cluster did not come up");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(cluster)
    }

    /// `redis-cluster://` naming the `i`th node alone: the client finds
    /// the others from it.
    pub(crate) fn url(&self, i: usize) -> String {
        format!(
            "redis-cluster://127.0.0.1:{}",
            self.ports[i % self.ports.len()]
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn cli() -> Option<PathBuf> {
    ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}
