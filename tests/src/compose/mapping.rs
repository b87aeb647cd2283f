//! The container world on one host: each compose hostname:port becomes one loopback
//! address (the same for every service that names it), each mounted container path a
//! host path. Applied to the strings a container sees: its command, its environment
//! and the text of the files mounted into it.

use super::ComposeError;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Hostname:port → loopback address, shared by the whole project.
#[derive(Default)]
pub struct Network {
    /// Compose service names (the hostnames of the compose network).
    hosts: Vec<String>,
    /// (service, container port) → host address.
    addresses: Mutex<BTreeMap<(String, u16), String>>,
    /// Services whose ports the harness does not pick (its own servers): only these.
    fixed: Vec<String>,
    /// Literal substitutions after the address mapping (an emulator's differences).
    substitutions: Vec<(String, String)>,
}

impl Network {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        Self {
            hosts: hosts.into_iter().collect(),
            ..Self::default()
        }
    }

    /// `service:port` is served at `address` (a server the harness started).
    pub fn fix(&mut self, service: &str, port: u16, address: String) {
        self.addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((service.to_owned(), port), address);
        self.fixed.push(service.to_owned());
    }

    pub fn substitute(&mut self, from: &str, to: &str) {
        self.substitutions.push((from.to_owned(), to.to_owned()));
    }

    /// The loopback address of `service:port`, picked on first use.
    pub fn address(&self, service: &str, port: u16) -> Result<String, ComposeError> {
        let mut addresses = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(address) = addresses.get(&(service.to_owned(), port)) {
            return Ok(address.clone());
        }
        if self.fixed.iter().any(|f| f == service) {
            return Err(ComposeError::Invalid(format!(
                "{service}:{port} is named, but the {service} server listens on another port"
            )));
        }
        let address = format!("127.0.0.1:{}", crate::env::free_port());
        addresses.insert((service.to_owned(), port), address.clone());
        Ok(address)
    }

    /// `text` as seen from `service`: `scheme://host:port` of any compose service and its
    /// own binds (`0.0.0.0:port`, `localhost:port`) become loopback addresses.
    pub fn rewrite(&self, service: &str, text: &str) -> Result<String, ComposeError> {
        let mut out = text.to_owned();
        for host in &self.hosts {
            out = self.replace_host_ports(&out, &format!("://{host}:"), host, "://")?;
        }
        for own in ["0.0.0.0:", "localhost:"] {
            out = self.replace_host_ports(&out, own, service, "")?;
        }
        for (from, to) in &self.substitutions {
            out = out.replace(from, to);
        }
        Ok(out)
    }

    /// Replaces each `{prefix}{port}` with `{keep}{address of service:port}`.
    fn replace_host_ports(
        &self,
        text: &str,
        prefix: &str,
        service: &str,
        keep: &str,
    ) -> Result<String, ComposeError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            out.push_str(&rest[..at]);
            match digits.parse::<u16>() {
                Ok(port) => {
                    out.push_str(keep);
                    out.push_str(&self.address(service, port)?);
                }
                Err(_) => out.push_str(prefix),
            }
            rest = &after[digits.len()..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Container path → host path, longest container path first.
#[derive(Clone, Default)]
pub struct Mounts {
    entries: Vec<(String, PathBuf)>,
}

impl Mounts {
    pub fn add(&mut self, container: &str, host: PathBuf) {
        self.entries
            .push((container.trim_end_matches('/').to_owned(), host));
        self.entries
            .sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
    }

    /// Every container path in `text` (a mount target or a path below one) replaced by
    /// its host path.
    pub fn rewrite(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (container, host) in &self.entries {
            out = replace_path(&out, container, &host.display().to_string());
        }
        out
    }
}

/// Replaces `from` where it is a whole path or a path prefix (followed by `/`, a quote,
/// whitespace or the end), so `/etc/x` does not match inside `/etc/xy`.
fn replace_path(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        let whole = after
            .chars()
            .next()
            .is_none_or(|c| c == '/' || c == '"' || c == '\'' || c.is_whitespace());
        out.push_str(&rest[..at]);
        out.push_str(if whole { to } else { from });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_map_to_one_address_for_every_service() {
        let mut network = Network::new(["ingest".to_owned(), "influxdb".to_owned()]);
        network.fix("influxdb", 8086, "127.0.0.1:1234".into());
        let engine = network
            .rewrite(
                "alert-engine",
                "a = \"tcp://ingest:5550\"\nb = \"http://influxdb:8086\"",
            )
            .expect("maps");
        let ingest = network
            .rewrite("ingest", "publish = \"tcp://0.0.0.0:5550\"")
            .expect("maps");
        let port = network.address("ingest", 5550).expect("picked");
        assert!(engine.contains(&format!("tcp://{port}")), "{engine}");
        assert!(engine.contains("http://127.0.0.1:1234"), "{engine}");
        assert_eq!(ingest, format!("publish = \"tcp://{port}\""));
        assert!(network.rewrite("x", "http://influxdb:9999").is_err());
    }

    #[test]
    fn paths_map_by_longest_mount() {
        let mut mounts = Mounts::default();
        mounts.add("/etc/cw", PathBuf::from("/tmp/a"));
        mounts.add("/etc/cw/certs", PathBuf::from("/tmp/certs"));
        assert_eq!(
            mounts.rewrite("\"/etc/cw/certs/ca.pem\" /etc/cw/x.toml /etc/cwx"),
            "\"/tmp/certs/ca.pem\" /tmp/a/x.toml /etc/cwx"
        );
    }
}
