//! Bounds on HTTP connections: how many may be open at once, and how long a
//! client may take to send a request's head.
//!
//! The HTTP server must not let a page, a script or a slow client take what
//! SMTP needs: without a cap, connections left open by a web page or a
//! load test spend the descriptors SMTP sessions need; without a header
//! timeout, a client dripping a request head one byte a minute holds its
//! connection for ever (slowloris). The listener waits for a free slot
//! before it accepts, so excess clients queue in the kernel's backlog.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// HTTP connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// Time from the first byte of a request (or from the connection's start)
/// until its head is complete.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// A listener that holds at most `max` connections open and gives each a
/// header timeout.
pub(crate) struct Bounded {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    header_timeout: Duration,
}

impl Bounded {
    pub(crate) fn new(listener: TcpListener, max: usize, header_timeout: Duration) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max.max(1))),
            header_timeout,
        }
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        loop {
            // The semaphore is never closed, so this only waits.
            let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
                continue;
            };
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (Guarded::new(stream, permit, self.header_timeout), addr);
                }
                // Out of descriptors or a connection reset before accept:
                // wait a little instead of spinning.
                Err(e) => {
                    tracing::debug!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Where a connection is in the bytes of its requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    /// Reading a request head; `ends` counts the line ends of `\r\n\r\n`
    /// (or `\n\n`) seen so far.
    Reading { ends: u8 },
    /// The head is complete; a body or the next request may follow.
    Done,
}

/// A connection that holds its slot until dropped and fails a read when a
/// request head takes longer than the header timeout.
pub(crate) struct Guarded {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    head: Head,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, timeout: Duration) -> Self {
        Self {
            stream,
            _slot: slot,
            head: Head::Reading { ends: 0 },
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Follows the bytes read: a head ends at an empty line; any byte after
    /// a finished head may start the next one, and starts its clock.
    fn track(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let ends = match self.head {
                Head::Done => {
                    self.deadline.as_mut().reset(Instant::now() + self.timeout);
                    0
                }
                Head::Reading { ends } => ends,
            };
            self.head = match (b, ends) {
                (b'\n', 1) => Head::Done,
                (b'\n', _) => Head::Reading { ends: 1 },
                (b'\r', e) => Head::Reading { ends: e },
                _ => Head::Reading { ends: 0 },
            };
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let this = &mut *self;
                this.track(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if matches!(self.head, Head::Reading { .. })
                    && self.deadline.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not complete within the header timeout",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
