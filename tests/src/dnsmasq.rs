//! A dnsmasq of a test's own, serving names from a hosts file the test rewrites: real DNS
//! for the bus's discovery (docs/architecture.md, "Discovery"). Killed on drop.

use crate::env::{free_port, required};
use cw_bus::{BusConfig, Discovery};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dnsmasq {
    child: Child,
    hosts: PathBuf,
    log: PathBuf,
    /// Where it answers (UDP and TCP), for `bus.nameserver`.
    pub address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    /// Serves `records` (address, name) and nothing else: no upstream, no /etc/hosts.
    pub async fn start(records: &[(&str, &str)]) -> Dnsmasq {
        let dir = tempfile::tempdir().expect("temp dir");
        // dnsmasq started as root reads the hosts file as `nobody` after a SIGHUP.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("dir readable");
        let hosts = dir.path().join("hosts");
        let log = dir.path().join("dnsmasq.log");
        write_hosts(&hosts, records);
        let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(required("CW_TEST_DNSMASQ"))
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--pid-file=",
                "--log-facility=-",
                "--log-queries",
                // Answers live no longer than the test's next rewrite.
                "--local-ttl=0",
            ])
            .arg(format!("--port={}", address.port()))
            .arg(format!("--addn-hosts={}", hosts.display()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("dnsmasq starts");
        let dns = Dnsmasq {
            child,
            hosts,
            log,
            address,
            _dir: dir,
        };
        dns.wait_serving(records).await;
        dns
    }

    /// Replaces the records and makes dnsmasq read them (SIGHUP); returns once it
    /// answers with them.
    pub async fn set(&self, records: &[(&str, &str)]) {
        write_hosts(&self.hosts, records);
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -HUP dnsmasq failed");
        self.wait_serving(records).await;
    }

    /// Ends the server: names stop resolving at all.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Until every name of `records` resolves, through this server, to its addresses.
    async fn wait_serving(&self, records: &[(&str, &str)]) {
        let discovery = Discovery::from_config(&BusConfig {
            nameserver: Some(self.address.to_string()),
            ..BusConfig::default()
        })
        .expect("discovery config");
        let deadline = Instant::now() + Duration::from_secs(15);
        let names: BTreeSet<&str> = records.iter().map(|(_, name)| *name).collect();
        for name in names {
            let want: BTreeSet<IpAddr> = records
                .iter()
                .filter(|(_, n)| *n == name)
                .map(|(ip, _)| ip.parse().expect("an IP"))
                .collect();
            loop {
                let got: Option<BTreeSet<IpAddr>> = discovery
                    .resolve(name, 1)
                    .await
                    .ok()
                    .map(|set| set.into_iter().map(|a| a.ip()).collect());
                if got.as_ref() == Some(&want) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "dnsmasq does not serve {name} as {want:?} (got {got:?}); its log:\n{}",
                    self.log_text()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write_hosts(path: &std::path::Path, records: &[(&str, &str)]) {
    let text: String = records
        .iter()
        .map(|(ip, name)| format!("{ip} {name}\n"))
        .collect();
    // Written beside and renamed, so dnsmasq never reads half a file.
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("hosts written");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).expect("readable");
    std::fs::rename(&tmp, path).expect("hosts replaced");
}
