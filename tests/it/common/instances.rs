//! `mailfault serve` processes on one Redis (`--state redis://`) for the
//! scale-out tests: started on free loopback ports, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::redis::Redis;

const BIN: &str = env!("CARGO_BIN_EXE_mailfault");

/// One `mailfault serve` process, killed when dropped.
pub(crate) struct Instance {
    child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
}

impl Instance {
    /// Kills it with SIGKILL, as a crash or the OOM killer would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn instance(redis: &Redis, scenario: &std::path::Path) -> Instance {
    instance_with(redis, scenario, &[])
}

/// An instance with its state in memory, to compare with one on Redis.
pub(crate) fn in_memory(scenario: &std::path::Path) -> Instance {
    start(scenario, &["--state", "memory"])
}

/// An instance behind a balancer that sends the PROXY protocol header
/// (`--proxy-protocol`), as docs/scale-out/ runs them.
pub(crate) fn behind_balancer(redis: &Redis, scenario: &std::path::Path) -> Instance {
    instance_with(redis, scenario, &["--proxy-protocol"])
}

/// An instance on `redis` with more `serve` arguments.
pub(crate) fn instance_with(redis: &Redis, scenario: &std::path::Path, extra: &[&str]) -> Instance {
    let url = redis.url();
    let mut args = vec!["--state", &url, "--state-namespace", "it"];
    args.extend_from_slice(extra);
    start(scenario, &args)
}

/// An instance with its state at `url` (a Redis Cluster, say).
pub(crate) fn instance_at(url: &str, scenario: &std::path::Path) -> Instance {
    start(scenario, &["--state", url, "--state-namespace", "it"])
}

fn start(scenario: &std::path::Path, args: &[&str]) -> Instance {
    let mut child = Command::new(BIN)
        .args(["serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--scenario")
        .arg(scenario)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailfault serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let (mut smtp, mut http) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(a) = line.trim().strip_prefix("mailfault listening on smtp://") {
            smtp = a.parse().ok();
        }
        if let Some(a) = line.trim().strip_prefix("web page and API on http://") {
            http = a.split('/').next().and_then(|a| a.parse().ok());
        }
        if line.starts_with("press Ctrl-C") {
            break;
        }
    }
    Instance {
        child,
        smtp: smtp.expect("an SMTP address"),
        http: http.expect("an HTTP address"),
    }
}

pub(crate) fn scenario(dir: &tempfile::TempDir, yaml: &str) -> std::path::PathBuf {
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, yaml).expect("write the scenario");
    path
}

/// MAIL and RCPT through `at`; the RCPT reply.
pub(crate) async fn rcpt(at: SocketAddr, to: &str) -> String {
    let (mut c, _) = super::Raw::greeted(at).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<app@example.test>").await;
    let reply = c.cmd(&format!("RCPT TO:<{to}>")).await;
    let _ = c.cmd("QUIT").await;
    reply
}
