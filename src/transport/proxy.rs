//! The PROXY protocol header a load balancer puts before the client's
//! bytes (HAProxy's `send-proxy` and `send-proxy-v2`), read with
//! `--proxy-protocol` so that a session behind the balancer sees the
//! sender's own address: rules keyed by `client_ip`, the `Received:`
//! header and the session records then tell senders apart.
//!
//! The header is read exactly (byte by byte for version 1's text line, the
//! declared length for version 2), so not a byte of the SMTP dialogue is
//! taken with it; the `ppp` crate parses what was read. With the option on,
//! a connection without a valid header is closed: anyone who can reach the
//! port directly could otherwise claim any address.

use std::net::SocketAddr;
use std::time::Duration;

use ppp::HeaderResult;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How long the balancer may take to send the header.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Version 2's fixed part: the signature, version and command, family,
/// and the length of what follows.
const V2_FIXED: usize = 16;
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1's longest line (the specification's bound, CRLF included).
const V1_MAX: usize = 107;

/// Why a connection's header was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    #[error("no PROXY protocol header within {0:?}")]
    TimedOut(Duration),
    #[error("connection closed before the PROXY protocol header ended")]
    Closed,
    #[error("not a PROXY protocol header (is the balancer set to send-proxy?)")]
    Missing,
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(String),
}

/// Reads the header; the client's address it names, or `None` for a
/// header that names none (a balancer's own health check: `LOCAL`,
/// `UNKNOWN`), where the socket's peer stays the client.
pub(crate) async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyError> {
    tokio::time::timeout(HEADER_TIMEOUT, read_exact_header(stream))
        .await
        .map_err(|_| ProxyError::TimedOut(HEADER_TIMEOUT))?
}

async fn read_exact_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyError> {
    let mut head = vec![0u8; V2_FIXED];
    let mut first = [0u8; 1];
    read(stream, &mut first).await?;
    head[0] = first[0];
    match first[0] {
        b'\r' => {
            read(stream, &mut head[1..]).await?;
            if !head.starts_with(V2_SIGNATURE) {
                return Err(ProxyError::Missing);
            }
            let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
            head.resize(V2_FIXED + len, 0);
            read(stream, &mut head[V2_FIXED..]).await?;
        }
        b'P' => {
            head.truncate(1);
            while !head.ends_with(b"\r\n") {
                if head.len() >= V1_MAX {
                    return Err(ProxyError::Malformed(
                        "a version 1 line longer than 107 bytes".into(),
                    ));
                }
                read(stream, &mut first).await?;
                head.push(first[0]);
            }
        }
        _ => return Err(ProxyError::Missing),
    }
    source(&head)
}

async fn read<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> Result<(), ProxyError> {
    stream
        .read_exact(buf)
        .await
        .map(|_| ())
        .map_err(|_| ProxyError::Closed)
}

/// The client address in a complete header.
fn source(header: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    match HeaderResult::parse(header) {
        HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v1::Addresses::Tcp6(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v1::Addresses::Unknown => None,
        }),
        HeaderResult::V2(Ok(h)) => Ok(match (h.command, h.addresses) {
            (ppp::v2::Command::Local, _) => None,
            (_, ppp::v2::Addresses::IPv4(a)) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            (_, ppp::v2::Addresses::IPv6(a)) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            (_, ppp::v2::Addresses::Unix(_) | ppp::v2::Addresses::Unspecified) => None,
        }),
        HeaderResult::V1(Err(e)) => Err(ProxyError::Malformed(e.to_string())),
        HeaderResult::V2(Err(e)) => Err(ProxyError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> (Result<Option<SocketAddr>, ProxyError>, Vec<u8>) {
        let mut input = bytes;
        let got = read_header(&mut input).await;
        (got, input.to_vec())
    }

    fn v2(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&u16::try_from(addresses.len()).unwrap_or(0).to_be_bytes());
        h.extend_from_slice(addresses);
        h
    }

    #[tokio::test]
    async fn version_1_names_the_client_and_leaves_the_dialogue_unread() {
        let (got, rest) = parse(b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 1025\r\nEHLO x\r\n").await;
        assert_eq!(got.ok().flatten(), Some("192.0.2.7:40001".parse().unwrap()));
        assert_eq!(rest, b"EHLO x\r\n");
        let (got, _) = parse(b"PROXY TCP6 2001:db8::1 ::1 40001 1025\r\n").await;
        assert_eq!(
            got.ok().flatten(),
            Some("[2001:db8::1]:40001".parse().unwrap())
        );
        let (got, rest) = parse(b"PROXY UNKNOWN\r\nQUIT\r\n").await;
        assert_eq!(got.ok(), Some(None));
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn version_2_names_the_client_and_local_names_none() {
        let mut addresses = vec![198, 51, 100, 9, 127, 0, 0, 1];
        addresses.extend_from_slice(&40002u16.to_be_bytes());
        addresses.extend_from_slice(&1025u16.to_be_bytes());
        let mut bytes = v2(1, 0x11, &addresses);
        bytes.extend_from_slice(b"EHLO x\r\n");
        let (got, rest) = parse(&bytes).await;
        assert_eq!(
            got.ok().flatten(),
            Some("198.51.100.9:40002".parse().unwrap())
        );
        assert_eq!(rest, b"EHLO x\r\n");
        let (got, _) = parse(&v2(0, 0x00, &[])).await;
        assert_eq!(got.ok(), Some(None));
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        for bad in [
            &b"EHLO client.test\r\n"[..],
            b"PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n",
            b"\r\n\r\n\0\r\nQUIZ\n!!!!",
            b"PROXY TCP4 192.0.2.7",
            b"",
        ] {
            let (got, _) = parse(bad).await;
            assert!(got.is_err(), "{bad:?} gave {got:?}");
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(matches!(
            parse(&long).await.0,
            Err(ProxyError::Malformed(_))
        ));
    }
}
