//! A private HAProxy for the scale-out tests: Debian's `haproxy` in the
//! foreground (`-db`) with a generated configuration, TCP mode, round robin
//! over the given mailfault instances (started with `--proxy-protocol`: it
//! sends them a PROXY v2 header), its frontend on a free port of
//! 127.0.0.1, health checks on each instance's `/readyz`. It is stopped by
//! its PID when the handle is dropped; it never runs as a service.
//!
//! The configuration mirrors the one in docs/scale-out.md. Where haproxy is
//! missing the tests say "SKIPPED" loudly, and fail instead when
//! `MAILFAULT_REDIS_TESTS=require` (as `.ci/run` sets).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One backend server: where its SMTP listener is, and its HTTP port (for
/// the `/readyz` health check).
pub(crate) struct Backend {
    pub smtp: SocketAddr,
    pub http: SocketAddr,
}

pub(crate) struct Haproxy {
    child: Option<Child>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

fn binary() -> Option<PathBuf> {
    ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The configuration: the same shape as docs/scale-out.md's, with loopback
/// addresses and per-instance check ports.
pub(crate) fn config(frontend: SocketAddr, backends: &[Backend]) -> String {
    let mut cfg = format!(
        "\
global
    maxconn 1024

defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m

frontend smtp
    bind {frontend}
    default_backend mailfault

backend mailfault
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 send-proxy-v2
"
    );
    for (i, b) in backends.iter().enumerate() {
        let _ = writeln!(
            cfg,
            "    server mf{i} {} check port {}",
            b.smtp,
            b.http.port()
        );
    }
    cfg
}

impl Haproxy {
    /// Starts HAProxy in front of `backends`, or `None` (after saying so)
    /// when the test may be skipped.
    pub(crate) fn start(backends: &[Backend]) -> Option<Self> {
        let Some(bin) = binary() else {
            let required = std::env::var("MAILFAULT_REDIS_TESTS").as_deref() == Ok("require");
            assert!(
                !required,
                "MAILFAULT_REDIS_TESTS=require but haproxy is not installed"
            );
            eprintln!("SKIPPED: haproxy is not installed (apt-get install haproxy)");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, config(addr, backends)).expect("write haproxy.cfg");
        let check = Command::new(&bin)
            .args(["-c", "-q", "-f"])
            .arg(&cfg)
            .output()
            .expect("haproxy -c runs");
        assert!(
            check.status.success(),
            "haproxy rejects the configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("log file");
        let child = Command::new(&bin)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("haproxy starts");
        let mut me = Self {
            child: Some(child),
            addr,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = me.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "haproxy did not listen on {addr}: {exited:?}\n{}",
                me.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(me)
    }

    /// Its frontend: where senders connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it logged so far (for failure messages).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.path("haproxy.log")).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        Path::new(self.dir.path()).join(name)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
