//! How many of a SUB or PULL socket's endpoints are connected: what a service's
//! readiness reports about its peers (docs/architecture.md, "Health").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Links {
    endpoints: usize,
    connected: AtomicUsize,
}

impl Links {
    pub(crate) fn new(endpoints: usize) -> Self {
        Self {
            endpoints,
            connected: AtomicUsize::new(0),
        }
    }

    pub(crate) fn connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one connection down when the guard is dropped.
    pub(crate) fn disconnect_on_drop(self: &Arc<Self>) -> Disconnect {
        Disconnect(self.clone())
    }

    /// Readiness: `Ok` once at least one endpoint is connected (or none is configured).
    pub fn probe(&self) -> Result<(), String> {
        let connected = self.connected.load(Ordering::Relaxed);
        if connected > 0 || self.endpoints == 0 {
            Ok(())
        } else {
            Err(format!("0 of {} endpoints connected", self.endpoints))
        }
    }
}

pub(crate) struct Disconnect(Arc<Links>);

impl Drop for Disconnect {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}
