//! The accept loop: one task per connection, a cap on concurrent sessions
//! and a clean stop when shutdown is signalled. With every slot taken, the
//! session idle longest is closed to admit the newcomer; when none is idle,
//! the newcomer gets `421 4.7.0` at once, as a busy receiver answers.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::{Shared, connection};
use crate::proto::replies;

/// How long a newcomer waits for the slot of the session closed for it.
const EVICTION_WAIT: Duration = Duration::from_secs(2);

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    implicit_tls: bool,
) {
    let slots = Arc::clone(&shared.slots);
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                let shared = Arc::clone(&shared);
                tracker.spawn(connection::run(stream, peer, shared, implicit_tls, permit));
            }
            Err(_) if shared.evict_longest_idle() => {
                debug!(client = %peer, "connection limit reached; closing the session idle longest");
                let shared = Arc::clone(&shared);
                let slots = Arc::clone(&slots);
                tracker.spawn(async move {
                    // The evicted session gives its slot up at once; one
                    // busy writing its 421 may take a moment.
                    let permit = tokio::time::timeout(EVICTION_WAIT, slots.acquire_owned()).await;
                    if let Ok(Ok(permit)) = permit {
                        connection::run(stream, peer, shared, implicit_tls, permit).await;
                    } else {
                        shared.metrics.refused();
                        refuse(stream, shared.active().enhanced_codes()).await;
                    }
                });
            }
            Err(_) => {
                debug!(client = %peer, "connection limit reached; refusing with 421");
                shared.metrics.refused();
                let enhanced = shared.active().enhanced_codes();
                tracker.spawn(refuse(stream, enhanced));
            }
        }
    }
}

async fn refuse(mut stream: TcpStream, enhanced: bool) {
    let wire = replies::TOO_MANY_CONNECTIONS.to_wire(enhanced);
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(&wire)).await;
    let _ = stream.shutdown().await;
}
