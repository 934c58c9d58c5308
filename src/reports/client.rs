//! The small SMTP client that hands a report to `server.reports.deliver_to`:
//! plain SMTP, one message, from the null reverse-path `<>`, every step
//! under a time-out. It says whether a failure is worth retrying (a 4xx, a
//! connection that failed or dropped) or final (a 5xx).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest wait for a connection or for one reply.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest reply line read back.
const MAX_LINE: usize = 4096;
/// The most lines one reply may have.
const MAX_LINES: usize = 100;

/// Why a report was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendError {
    /// Worth another try later.
    pub temporary: bool,
    pub reason: String,
}

fn temporary(reason: impl Into<String>) -> SendError {
    SendError {
        temporary: true,
        reason: reason.into(),
    }
}

struct Peer {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Peer {
    /// Reads one (possibly multiline) reply: its code and last line.
    async fn reply(&mut self) -> Result<(u16, String), SendError> {
        let mut line = Vec::new();
        for _ in 0..MAX_LINES {
            line.clear();
            let read = tokio::time::timeout(STEP_TIMEOUT, async {
                let mut limited = (&mut self.reader).take(MAX_LINE as u64);
                limited.read_until(b'\n', &mut line).await
            })
            .await
            .map_err(|_| temporary("no reply in time"))?
            .map_err(|e| temporary(format!("read failed: {e}")))?;
            if read == 0 {
                return Err(temporary("connection closed"));
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            let code = text
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| temporary(format!("not an SMTP reply: {text}")))?;
            if text.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text));
            }
        }
        Err(temporary("reply too long"))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        tokio::time::timeout(STEP_TIMEOUT, self.writer.write_all(bytes))
            .await
            .map_err(|_| temporary("write timed out"))?
            .map_err(|e| temporary(format!("write failed: {e}")))
    }

    /// Sends a command and wants a reply of class `want`.
    async fn step(&mut self, command: &[u8], want: u16) -> Result<(), SendError> {
        if !command.is_empty() {
            self.write(command).await?;
        }
        let (code, text) = self.reply().await?;
        if code / 100 == want {
            return Ok(());
        }
        Err(SendError {
            temporary: code / 100 != 5,
            reason: format!("{} answered {text}", describe(command)),
        })
    }
}

fn describe(command: &[u8]) -> String {
    if command.is_empty() {
        return "the greeting".into();
    }
    let text = String::from_utf8_lossy(command);
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches(':')
        .to_owned()
}

/// `raw` with dot-stuffing (RFC 5321 §4.5.2) and the ending `.` line.
fn stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut line_start = true;
    for &b in raw {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Delivers `raw` to `to` through `host:port`, from `<>`.
pub(crate) async fn send(host: &str, port: u16, to: &str, raw: &[u8]) -> Result<(), SendError> {
    let stream = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| temporary("connection timed out"))?
        .map_err(|e| temporary(format!("connection failed: {e}")))?;
    let (read, writer) = stream.into_split();
    let mut peer = Peer {
        reader: BufReader::new(read),
        writer,
    };
    peer.step(b"", 2).await?;
    peer.step(b"EHLO mailfault.reports\r\n", 2).await?;
    peer.step(b"MAIL FROM:<>\r\n", 2).await?;
    let rcpt = format!("RCPT TO:<{}>\r\n", super::one_line(to));
    peer.step(rcpt.as_bytes(), 2).await?;
    peer.step(b"DATA\r\n", 3).await?;
    peer.write(&stuffed(raw)).await?;
    peer.step(b"", 2).await.map_err(|mut e| {
        e.reason = e.reason.replace("the greeting", "the message");
        e
    })?;
    let _ = peer.step(b"QUIT\r\n", 2).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing() {
        assert_eq!(stuffed(b".a\r\nb\r\n.\r\n"), b"..a\r\nb\r\n..\r\n.\r\n");
        assert_eq!(stuffed(b"x"), b"x\r\n.\r\n");
    }
}
