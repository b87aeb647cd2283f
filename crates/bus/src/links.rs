//! How many peers a SUB or PULL side is connected to: what a service's readiness reports
//! about its peers (docs/architecture.md, "Health"). A peer is one address: a literal
//! endpoint, or one of the addresses a named endpoint resolves to ("Discovery").

use crate::stats::BusStats;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Links {
    endpoints: usize,
    connected: AtomicUsize,
    /// Shared with the socket's other counters, so a service can export its peers.
    stats: Arc<BusStats>,
}

impl Links {
    pub(crate) fn new(endpoints: usize, stats: Arc<BusStats>) -> Self {
        Self {
            endpoints,
            connected: AtomicUsize::new(0),
            stats,
        }
    }

    /// Counts one peer connection up, and down again when the guard is dropped (the
    /// peer went away, was dropped from DNS, or shutdown).
    pub(crate) fn connected(self: &Arc<Self>) -> Connection {
        self.connected.fetch_add(1, Ordering::Relaxed);
        self.stats.peers.fetch_add(1, Ordering::Relaxed);
        Connection(self.clone())
    }

    /// Peers connected now.
    pub fn peers(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// Readiness: `Ok` once at least one peer is connected (or no endpoint is configured).
    pub fn probe(&self) -> Result<(), String> {
        if self.peers() > 0 || self.endpoints == 0 {
            Ok(())
        } else {
            Err(format!(
                "no peer connected ({} endpoints configured)",
                self.endpoints
            ))
        }
    }
}

pub(crate) struct Connection(Arc<Links>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
        self.0.stats.peers.fetch_sub(1, Ordering::Relaxed);
    }
}
