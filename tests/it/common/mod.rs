//! Helpers shared by the integration tests: a raw SMTP client that speaks
//! bytes, with every read bounded in time.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) mod haproxy;
pub(crate) mod http;
pub(crate) mod instances;
pub(crate) mod postfix;
pub(crate) mod redis;

pub(crate) const STEP: Duration = Duration::from_secs(10);

pub(crate) struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects and reads the greeting.
    pub(crate) async fn greeted(addr: SocketAddr) -> (Self, String) {
        let mut c = Self::connect(addr).await;
        let g = c.reply().await;
        (c, g)
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write failed");
    }

    /// Reads one complete reply (all lines of a multiline reply), CRLFs kept.
    pub(crate) async fn reply(&mut self) -> String {
        tokio::time::timeout(STEP, self.reply_inner())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no complete reply within {STEP:?}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                )
            })
    }

    async fn reply_inner(&mut self) -> String {
        loop {
            let mut start = 0;
            while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
                let end = start + pos + 1;
                let line = &self.buf[start..end];
                if line.len() < 4 || line[3] != b'-' {
                    let reply: Vec<u8> = self.buf.drain(..end).collect();
                    return String::from_utf8_lossy(&reply).into_owned();
                }
                start = end;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.expect("read failed");
            assert!(
                n > 0,
                "connection closed; unread {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends one command line (CRLF added) and returns the reply.
    pub(crate) async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Reads raw bytes until `done` holds for everything read so far, and
    /// returns them with the number of reads it took (how fragmented the
    /// bytes arrived). Nothing is parsed, so broken replies come out as sent.
    pub(crate) async fn raw_until(&mut self, done: impl Fn(&[u8]) -> bool) -> (Vec<u8>, usize) {
        let fut = async {
            let mut got = std::mem::take(&mut self.buf);
            let mut reads = 0;
            let mut chunk = [0u8; 4096];
            while !done(&got) {
                let n = self.stream.read(&mut chunk).await.expect("read failed");
                assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&got));
                reads += 1;
                got.extend_from_slice(&chunk[..n]);
            }
            (got, reads)
        };
        tokio::time::timeout(STEP, fut)
            .await
            .expect("expected bytes did not arrive")
    }

    /// Whatever arrives within `wait`, for checking that nothing more comes.
    pub(crate) async fn raw_within(&mut self, wait: Duration) -> Vec<u8> {
        let mut got = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        got
    }

    /// Reads until the server closes; returns what came.
    pub(crate) async fn until_closed(&mut self) -> String {
        let fut = async {
            let mut rest = std::mem::take(&mut self.buf);
            let mut chunk = [0u8; 4096];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => rest.extend_from_slice(&chunk[..n]),
                }
            }
            String::from_utf8_lossy(&rest).into_owned()
        };
        tokio::time::timeout(STEP, fut)
            .await
            .expect("server did not close the connection")
    }
}

/// Sends one message over a raw connection and returns the final reply.
pub(crate) async fn send_message(
    addr: SocketAddr,
    from: &str,
    to: &[&str],
    content: &str,
) -> String {
    let (mut c, _) = Raw::greeted(addr).await;
    c.cmd("EHLO client.test").await;
    c.cmd(&format!("MAIL FROM:<{from}>")).await;
    for rcpt in to {
        c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
    }
    let go = c.cmd("DATA").await;
    if !go.starts_with("354") {
        return go;
    }
    c.send(content.as_bytes()).await;
    let reply = c.cmd(".").await;
    let _ = c.cmd("QUIT").await;
    reply
}

/// Runs a Python script with the server's port as its argument; returns stdout.
pub(crate) async fn python(script: &str, port: u16) -> String {
    python_args(script, &[port.to_string()]).await
}

/// Runs a Python script with these arguments; returns stdout.
pub(crate) async fn python_args(script: &str, args: &[String]) -> String {
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 must be installed to run these tests");
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut stdout = String::new();
        let mut stderr = String::new();
        use tokio::io::AsyncReadExt;
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let _ = tokio::join!(
            so.read_to_string(&mut stdout),
            se.read_to_string(&mut stderr)
        );
        let status = child.wait().await.unwrap();
        assert!(status.success(), "python failed: {stderr}");
        stdout
    })
    .await
    .expect("python script timed out")
}

/// `scenarios/NAME.yaml` in this repository (NAME may hold a folder).
pub(crate) fn scenario_file(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.yaml"))
}
