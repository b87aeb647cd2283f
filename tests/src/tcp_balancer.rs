//! A TCP front spreading connections over several backends, standing in for the L4 load
//! balancer (a Kubernetes Service, an NLB, HAProxy in TCP mode) an operator runs in front
//! of the ingest replicas (docs/chaos.md, "Gateways and a lost ingest"). Each new
//! connection goes to the next backend in turn; one that refuses the connect (a dead
//! process) is skipped, so a gateway whose ingest died lands on a live one when it
//! reconnects. TLS passes through untouched: the gateway still verifies ingest's
//! certificate end to end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};

pub struct TcpBalancer {
    /// The loopback address gateways connect to.
    pub addr: SocketAddr,
    _stop: DropGuard,
}

impl TcpBalancer {
    /// Listens on a fresh loopback port and forwards to `backends` (`host:port` each).
    pub async fn start(backends: Vec<String>) -> Self {
        assert!(!backends.is_empty(), "a balancer needs a backend");
        let port = crate::env::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("balancer port free");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let backends = Arc::new(backends);
        let next = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                };
                let first = next.fetch_add(1, Ordering::Relaxed);
                let (backends, token) = (backends.clone(), token.clone());
                tokio::spawn(async move {
                    let Some(mut server) = connect_any(&backends, first).await else {
                        return; // every backend down: the client sees the close and retries
                    };
                    let mut client = client;
                    let _ = client.set_nodelay(true);
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _stop: stop.drop_guard(),
        }
    }
}

/// The first backend that accepts, trying them in turn from `first`.
async fn connect_any(backends: &[String], first: usize) -> Option<TcpStream> {
    for k in 0..backends.len() {
        let backend = &backends[(first + k) % backends.len()];
        if let Ok(stream) = TcpStream::connect(backend).await {
            let _ = stream.set_nodelay(true);
            return Some(stream);
        }
    }
    None
}
