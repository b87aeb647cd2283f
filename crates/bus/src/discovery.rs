//! Endpoints named by DNS (docs/architecture.md, "Discovery"). `tcp://HOST:PORT` whose
//! host is a name (a Kubernetes headless Service, a compose service with replicas) is
//! resolved to every A/AAAA address and one peer connection is kept per address;
//! every `bus.discovery_interval_s` it is resolved again, new addresses are connected
//! and vanished ones dropped. So an ingest or an engine is added by starting it.
//!
//! One connection per address, each its own socket, because zmq.rs 0.7 cannot drop one
//! peer of a socket: `Socket::disconnect` is still a TODO in the crate. The per-peer
//! sockets are what the SUB and PULL sides already ran (one per endpoint), merged into
//! one channel; dropping a peer is cancelling its task, which drops its socket and so
//! closes its connection.
//!
//! A literal address (`tcp://10.0.0.5:5550`, `tcp://[fd00::5]:5550`) or another
//! transport is connected as given, exactly as before discovery existed.

use crate::events::ResolveFailed;
use crate::stats::BusStats;
use crate::{BusConfig, BusError, dns};
use cw_runtime::InternalEvent;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zeromq::{Endpoint, Host};

/// A system lookup that takes longer than this counts as failed (getaddrinfo has its own
/// timeouts from resolv.conf; this bounds a stuck one).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Before the first good answer, ask again sooner than the interval: a peer is waited
/// for only as long as its name takes to appear.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// How names in endpoints are resolved, and how often; cheap to clone.
#[derive(Clone, Debug)]
pub struct Discovery {
    nameserver: Option<SocketAddr>,
    interval: Duration,
}

impl Default for Discovery {
    /// The system resolver every 10 s (`BusConfig`'s defaults).
    fn default() -> Self {
        Self {
            nameserver: None,
            interval: Duration::from_secs(10),
        }
    }
}

impl Discovery {
    pub fn from_config(cfg: &BusConfig) -> Result<Self, BusError> {
        if cfg.discovery_interval_s == 0 {
            return Err(BusError::Config(
                "bus.discovery_interval_s must be at least 1".to_owned(),
            ));
        }
        let nameserver = match cfg.nameserver.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                BusError::Config(format!(
                    "bus.nameserver must be IP:port (e.g. \"10.96.0.10:53\"), not {text:?}"
                ))
            })?),
        };
        Ok(Self {
            nameserver,
            interval: Duration::from_secs(cfg.discovery_interval_s),
        })
    }

    /// Every address `host` resolves to, with `port`.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<BTreeSet<SocketAddr>, String> {
        let ips: BTreeSet<IpAddr> = match self.nameserver {
            Some(server) => dns::lookup(server, host)
                .await
                .map_err(|e| format!("{e} (asked {server})"))?,
            None => tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| format!("no answer within {LOOKUP_TIMEOUT:?}"))?
                .map_err(|e| e.to_string())?
                .map(|a| a.ip())
                .collect(),
        };
        if ips.is_empty() {
            return Err("no address".to_owned());
        }
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

/// What an endpoint from config connects to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Connected as written.
    Literal,
    /// Followed through DNS.
    Name { host: String, port: u16 },
}

pub(crate) fn target(endpoint: &str) -> Target {
    match Endpoint::from_str(endpoint) {
        Ok(Endpoint::Tcp(Host::Domain(host), port)) => Target::Name { host, port },
        _ => Target::Literal,
    }
}

/// Runs `connect(peer endpoint, stop)` once per peer of each endpoint until `shutdown`:
/// for a literal endpoint once, for a name once per address it resolves to, for as long
/// as it does. `connect` must end promptly when its token is cancelled.
pub(crate) fn spawn_peers<F, Fut>(
    endpoints: &[String],
    discovery: &Discovery,
    stats: &Arc<BusStats>,
    shutdown: &CancellationToken,
    connect: F,
) where
    F: Fn(String, CancellationToken) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    for endpoint in endpoints {
        match target(endpoint) {
            Target::Literal => {
                tokio::spawn(connect(endpoint.clone(), shutdown.clone()));
            }
            Target::Name { host, port } => {
                tokio::spawn(follow(
                    endpoint.clone(),
                    host,
                    port,
                    discovery.clone(),
                    stats.clone(),
                    shutdown.clone(),
                    connect.clone(),
                ));
            }
        }
    }
}

/// Keeps one `connect` task per address of `host`, re-resolving every interval. A failed
/// resolution keeps the last good set (a DNS outage must not cut live peers; a peer that
/// really went away just fails to reconnect) and is logged and counted.
async fn follow<F, Fut>(
    endpoint: String,
    host: String,
    port: u16,
    discovery: Discovery,
    stats: Arc<BusStats>,
    shutdown: CancellationToken,
    connect: F,
) where
    F: Fn(String, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut peers: HashMap<SocketAddr, CancellationToken> = HashMap::new();
    let mut resolved_once = false;
    loop {
        let answer = tokio::select! {
            _ = shutdown.cancelled() => break,
            answer = discovery.resolve(&host, port) => answer,
        };
        match answer {
            Ok(addresses) => {
                resolved_once = true;
                peers.retain(|address, stop| {
                    let keep = addresses.contains(address);
                    if !keep {
                        tracing::info!(%endpoint, peer = %address, "peer left DNS; dropping it");
                        stop.cancel();
                    }
                    keep
                });
                for address in addresses {
                    peers.entry(address).or_insert_with(|| {
                        tracing::info!(%endpoint, peer = %address, "peer found in DNS; connecting");
                        let stop = shutdown.child_token();
                        tokio::spawn(connect(format!("tcp://{address}"), stop.clone()));
                        stop
                    });
                }
            }
            Err(error) => {
                ResolveFailed {
                    endpoint: &endpoint,
                    error: &error,
                    kept: peers.len(),
                }
                .emit(&stats);
            }
        }
        let wait = if resolved_once {
            discovery.interval
        } else {
            FIRST_RETRY.min(discovery.interval)
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    for stop in peers.values() {
        stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_followed_and_addresses_connected_as_written() {
        assert_eq!(
            target("tcp://cw-ingest-headless.cw.svc:5555"),
            Target::Name {
                host: "cw-ingest-headless.cw.svc".to_owned(),
                port: 5555
            }
        );
        assert_eq!(
            target("tcp://localhost:5550"),
            Target::Name {
                host: "localhost".to_owned(),
                port: 5550
            }
        );
        for literal in [
            "tcp://127.0.0.1:5550",
            "tcp://10.1.2.3:1",
            "tcp://[fd00::5]:5550",
            "ipc:///run/cw.sock",
            "not an endpoint",
        ] {
            assert_eq!(target(literal), Target::Literal, "{literal}");
        }
    }

    #[test]
    fn a_zero_interval_or_a_nameserver_without_port_is_refused() {
        let cfg = BusConfig {
            discovery_interval_s: 0,
            ..BusConfig::default()
        };
        let err = Discovery::from_config(&cfg).expect_err("refused");
        assert!(err.to_string().contains("discovery_interval_s"), "{err}");
        for bad in ["10.96.0.10", "dns.local:53", "10.96.0.10:99999"] {
            let cfg = BusConfig {
                nameserver: Some(bad.to_owned()),
                ..BusConfig::default()
            };
            let err = Discovery::from_config(&cfg).expect_err("refused");
            assert!(err.to_string().contains("bus.nameserver"), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn the_system_resolver_answers_for_localhost() {
        let found = Discovery::default()
            .resolve("localhost", 5550)
            .await
            .expect("localhost resolves");
        assert!(
            found.contains(&"127.0.0.1:5550".parse().expect("addr")),
            "{found:?}"
        );
    }

    /// A nameserver that does not answer (nothing on its port) is an error, soon.
    #[tokio::test]
    async fn a_dead_nameserver_is_an_error_not_a_hang() {
        let port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
            s.local_addr().expect("addr").port()
        };
        let discovery = Discovery::from_config(&BusConfig {
            nameserver: Some(format!("127.0.0.1:{port}")),
            ..BusConfig::default()
        })
        .expect("config");
        let started = std::time::Instant::now();
        let err = discovery
            .resolve("ingest.cw.test", 5550)
            .await
            .expect_err("nobody answers");
        assert!(err.contains("asked 127.0.0.1"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
