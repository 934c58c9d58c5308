//! `mailfault healthcheck`: asks a running server's `/readyz` and exits 0
//! when it is ready, 1 otherwise. A plain HTTP/1.0 GET over a TCP stream,
//! so a container image without curl can still check itself.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long each step (connect, write, read) may take.
const STEP: Duration = Duration::from_secs(3);

/// The URL to ask when none is given: the address `serve` would use from
/// `MAILFAULT_HTTP` (an unspecified 0.0.0.0 is asked on loopback), or the
/// default port.
pub fn default_url() -> String {
    let from_env = std::env::var("MAILFAULT_HTTP")
        .ok()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok());
    match from_env {
        Some(mut addr) => {
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
        None => "http://127.0.0.1:8025".to_owned(),
    }
}

/// `http://host:port[/base]` -> (host:port, path of /readyz under base).
fn target(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("`{url}` is not an http:// URL; use e.g. http://127.0.0.1:8025 (no TLS here)")
    })?;
    let (authority, base) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(format!(
            "`{url}` names no host; use e.g. http://127.0.0.1:8025"
        ));
    }
    let authority = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let base = base.trim_end_matches('/');
    let path = if base.is_empty() {
        "/readyz".to_owned()
    } else {
        format!("/{base}/readyz")
    };
    Ok((authority, path))
}

/// The status line's code, or why there is none.
fn check(url: &str) -> Result<u16, String> {
    let (authority, path) = target(url)?;
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, STEP).map_err(|e| {
        format!("cannot connect to {addr}: {e}; is `mailfault serve` running with --http {addr}?")
    })?;
    stream
        .set_read_timeout(Some(STEP))
        .and_then(|()| stream.set_write_timeout(Some(STEP)))
        .map_err(|e| format!("cannot set time-outs: {e}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("cannot send the request to {addr}: {e}"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 1024 {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(format!("no answer from {addr}: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.trim().parse().ok())
        .ok_or_else(|| format!("{addr} did not answer HTTP (got {:?})", line.trim()))
}

/// Exit code 0 when `url`'s `/readyz` answers 200, 1 otherwise; says why on
/// stdout or stderr.
pub fn run(url: &str) -> u8 {
    match check(url) {
        Ok(200) => {
            println!("healthy: {url} is ready");
            0
        }
        Ok(code) => {
            eprintln!("unhealthy: {url}/readyz answered {code}");
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_an_address_and_the_readyz_path() {
        assert_eq!(
            target("http://127.0.0.1:8025").unwrap(),
            ("127.0.0.1:8025".into(), "/readyz".into())
        );
        assert_eq!(
            target("http://mail:9000/base/").unwrap(),
            ("mail:9000".into(), "/base/readyz".into())
        );
        assert_eq!(target("http://h").unwrap().0, "h:80");
        assert!(target("https://h").unwrap_err().contains("http://"));
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        assert_eq!(run(&format!("http://127.0.0.1:{port}")), 1);
    }
}
