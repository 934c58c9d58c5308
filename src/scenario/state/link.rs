//! Connections to the Redis deployment `--state` names: one server
//! (`redis://`) or a Redis Cluster (`redis-cluster://`), behind one type
//! for each way of talking to it, so nothing past here asks which.
//!
//! A Cluster client learns the slot map from the nodes it is given and
//! follows `MOVED`; every script and transaction of ours touches keys of
//! one hash tag, so each goes to one node whole.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::{ClusterClient, ClusterConfig, ClusterConnection};
use redis::{AsyncConnectionConfig, Cmd, Connection, Pipeline, RedisFuture, RedisResult, Value};

use super::redis::redacted;

/// Where connections go.
pub(crate) enum Target {
    Server(redis::Client),
    Cluster(Box<ClusterClient>),
}

impl Target {
    /// `redis://[user:pass@]host:port/db`, or
    /// `redis-cluster://[user:pass@]host:port[,host:port...]` naming some
    /// of a Cluster's nodes (the rest are found from them).
    pub(crate) fn parse(url: &str, timeout: Duration) -> Result<Self, String> {
        if let Some(rest) = url.strip_prefix("redis-cluster://") {
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), rest),
            };
            let nodes: Vec<String> = hosts
                .trim_end_matches('/')
                .split(',')
                .filter(|h| !h.is_empty())
                .map(|h| format!("redis://{auth}{h}"))
                .collect();
            if nodes.is_empty() {
                return Err(format!(
                    "`{}` names no Cluster node: use redis-cluster://host:port[,host:port...]",
                    redacted(url)
                ));
            }
            // One retry: a node that does not answer is an outage to
            // report (451, 421, /readyz), not to wait out.
            return ClusterClient::builder(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(1)
                .build()
                .map(|client| Self::Cluster(Box::new(client)))
                .map_err(|e| {
                    format!(
                        "`{}` is not a Redis Cluster URL ({e}): use redis-cluster://[user:password@]host:port[,host:port...]",
                        redacted(url)
                    )
                });
        }
        redis::Client::open(url).map(Self::Server).map_err(|e| {
            format!(
                "`{}` is not a Redis URL ({e}): use redis://[user:password@]host:port/db",
                redacted(url)
            )
        })
    }

    /// A blocking connection whose replies may take up to `read_timeout`.
    pub(crate) fn blocking(
        &self,
        timeout: Duration,
        read_timeout: Duration,
    ) -> RedisResult<Blocking> {
        match self {
            Self::Server(client) => {
                let c = client.get_connection_with_timeout(timeout)?;
                c.set_read_timeout(Some(read_timeout))?;
                c.set_write_timeout(Some(timeout))?;
                Ok(Blocking::Server(c))
            }
            Self::Cluster(client) => {
                let config = ClusterConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(read_timeout);
                let c = client.get_connection_with_config(config)?;
                c.set_read_timeout(Some(read_timeout))?;
                c.set_write_timeout(Some(timeout))?;
                Ok(Blocking::Cluster(Box::new(c)))
            }
        }
    }

    /// The async connection every session shares, pipelined.
    pub(crate) async fn multiplexed(&self, timeout: Duration) -> RedisResult<Multiplexed> {
        match self {
            Self::Server(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map(Multiplexed::Server)
            }
            Self::Cluster(client) => {
                let config = ClusterConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout);
                client
                    .get_async_connection_with_config(config)
                    .await
                    .map(Multiplexed::Cluster)
            }
        }
    }
}

/// A blocking connection to a server or a Cluster.
pub(crate) enum Blocking {
    Server(Connection),
    Cluster(Box<ClusterConnection>),
}

impl redis::ConnectionLike for Blocking {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        match self {
            Self::Server(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match self {
            Self::Server(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Self::Server(c) => c.req_command(cmd),
            Self::Cluster(c) => c.req_command(cmd),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }

    fn supports_pipelining(&self) -> bool {
        match self {
            Self::Server(c) => c.supports_pipelining(),
            Self::Cluster(c) => c.supports_pipelining(),
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            Self::Server(c) => c.check_connection(),
            Self::Cluster(c) => c.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            Self::Server(c) => c.is_open(),
            Self::Cluster(c) => c.is_open(),
        }
    }
}

/// The shared async connection to a server or a Cluster; clones share it.
#[derive(Clone)]
pub(crate) enum Multiplexed {
    Server(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Multiplexed {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(500);

    #[test]
    fn urls_name_a_server_or_a_cluster() {
        assert!(matches!(
            Target::parse("redis://127.0.0.1:6379/0", T),
            Ok(Target::Server(_))
        ));
        for url in [
            "redis-cluster://127.0.0.1:7000",
            "redis-cluster://127.0.0.1:7000,127.0.0.1:7001/",
            "redis-cluster://user:secret@10.0.0.1:7000,10.0.0.2:7000",
        ] {
            assert!(
                matches!(Target::parse(url, T), Ok(Target::Cluster(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn a_bad_url_says_how_to_write_one_and_hides_the_password() {
        let Err(e) = Target::parse("redis-cluster://user:secret@", T) else {
            panic!("no nodes accepted");
        };
        assert!(e.contains("names no Cluster node"), "{e}");
        assert!(e.contains("user:****@"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let Err(e) = Target::parse("redis://user:secret@:notaport", T) else {
            panic!("a bad port accepted");
        };
        assert!(e.contains("use redis://"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
