//! A TCP forwarder between a service and a real server that a test can cut and restore:
//! the store going away after start-up, as a crashed server or a network partition does,
//! without touching the server the other tests share.

use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct TcpProxy {
    /// The loopback address clients connect to (stays the same across cut and restore).
    pub addr: SocketAddr,
    target: String,
    running: Mutex<Option<CancellationToken>>,
}

impl TcpProxy {
    /// Forwards a fresh loopback port to `target` (`host:port`).
    pub fn start(target: &str) -> Self {
        let proxy = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], crate::env::free_port())),
            target: target.to_owned(),
            running: Mutex::new(None),
        };
        proxy.restore();
        proxy
    }

    /// Stops listening and drops every forwarded connection: the server is unreachable.
    pub fn cut(&self) {
        if let Some(token) = self.lock().take() {
            token.cancel();
        }
    }

    /// Listens again on the same port.
    pub fn restore(&self) {
        let mut running = self.lock();
        if running.is_some() {
            return;
        }
        let socket = TcpSocket::new_v4().expect("socket");
        // The port's old connections linger in TIME_WAIT after a cut.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("proxy port free");
        let listener = socket.listen(64).expect("listen");
        let token = CancellationToken::new();
        let (stop, target) = (token.clone(), self.target.clone());
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                };
                let (stop, target) = (stop.clone(), target.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        *running = Some(token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// `host:port` of a URL or MongoDB URI (`scheme://host:port/…`).
pub fn host_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}
