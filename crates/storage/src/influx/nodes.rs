//! Several InfluxDB nodes: which node holds a patient, and the check that the data on
//! each node agrees with that (docs/operations.md, "Several InfluxDB nodes").
//!
//! The mapping is fixed and contiguous, so an operator can say which node holds which
//! shards without running anything: of `n` nodes, node `i` holds the shards `s` with
//! `⌊s·n/64⌋ = i` (`cw_core::shard_of` gives a patient's shard).

use super::client::Client;
use super::query::Statement;
use crate::config::{DEFAULT_INFLUX_URL, InfluxConfig};
use crate::ports::{Result, StoreError};
use crate::redact;
use cw_core::secret::SecretString;
use cw_core::{PatientId, SHARD_COUNT, shard_of};
use std::path::Path;

/// The node (0-based) that holds `shard` when the samples are spread over `nodes`.
pub fn node_of_shard(shard: u16, nodes: usize) -> usize {
    usize::from(shard) * nodes.max(1) / usize::from(SHARD_COUNT)
}

/// One node's address and credentials, resolved from the config.
pub(super) struct NodeSpec {
    pub url: String,
    pub token: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Whether `/write` bodies to this node are gzipped.
    pub gzip: bool,
}

/// The nodes `cfg` names: `nodes`, or the one at `url`. A node's own credential files
/// win over the shared `token` / `username` / `password`.
pub(super) fn resolve(cfg: &InfluxConfig) -> Result<Vec<NodeSpec>> {
    if cfg.nodes.is_empty() {
        return Ok(vec![NodeSpec {
            gzip: cfg.gzip.unwrap_or_else(|| !is_loopback(&cfg.url)),
            url: cfg.url.clone(),
            token: cfg.token.clone(),
            username: cfg.username.clone(),
            password: cfg.password.clone(),
        }]);
    }
    let invalid = |why: String| {
        StoreError::Unavailable(format!(
            "storage.influx.nodes: {why}; remedy: docs/operations.md, \"Several InfluxDB nodes\""
        ))
    };
    if cfg.url != DEFAULT_INFLUX_URL {
        return Err(invalid(format!(
            "both storage.influx.url ({}) and storage.influx.nodes are set; give the nodes only",
            redact::url(&cfg.url)
        )));
    }
    if cfg.nodes.len() > usize::from(SHARD_COUNT) {
        return Err(invalid(format!(
            "{} nodes, more than the {SHARD_COUNT} shards they are mapped by",
            cfg.nodes.len()
        )));
    }
    let mut out: Vec<NodeSpec> = Vec::with_capacity(cfg.nodes.len());
    for node in &cfg.nodes {
        let url = node.url.trim_end_matches('/').to_owned();
        if url.is_empty() {
            return Err(invalid("a node has no url".to_owned()));
        }
        if out.iter().any(|seen| seen.url == url) {
            return Err(invalid(format!(
                "{} is listed twice: each node holds its own shards",
                redact::url(&url)
            )));
        }
        out.push(NodeSpec {
            token: match &node.token_file {
                Some(path) => Some(read_secret(path, "token_file")?),
                None => cfg.token.clone(),
            },
            username: node.username.clone().or_else(|| cfg.username.clone()),
            password: match &node.password_file {
                Some(path) => Some(read_secret(path, "password_file")?),
                None => cfg.password.clone(),
            },
            gzip: node.gzip.or(cfg.gzip).unwrap_or_else(|| !is_loopback(&url)),
            url,
        });
    }
    Ok(out)
}

/// Whether `url` names this host (`localhost`, 127.0.0.0/8, `::1`): a link where gzip
/// only costs CPU, both ours and InfluxDB's (docs/benchmarks.md, "gzip only where the
/// link needs it"). An unparsable URL counts as remote; the connection reports it.
fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn read_secret(path: &Path, key: &str) -> Result<SecretString> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot read storage.influx.nodes {key} {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_owned().into())
}

/// The nodes a sample store writes to and reads from.
pub(super) struct Nodes {
    clients: Vec<Client>,
}

impl Nodes {
    pub(super) fn new(clients: Vec<Client>) -> Self {
        Self { clients }
    }

    /// The node that holds `patient`'s points.
    pub(super) fn of(&self, patient: &PatientId) -> &Client {
        &self.clients[self.index_of(patient)]
    }

    pub(super) fn index_of(&self, patient: &PatientId) -> usize {
        match self.clients.len() {
            // One node: no hash per block on ingest's hot path.
            1 => 0,
            n => node_of_shard(shard_of(patient), n),
        }
    }

    pub(super) fn all(&self) -> &[Client] {
        &self.clients
    }

    pub(super) fn len(&self) -> usize {
        self.clients.len()
    }
}

/// Patients sampled per node by [`check_layout`] when a node has no marker yet: enough
/// to catch a changed node list, which misplaces about half of every node's patients,
/// and still one cheap index read.
const LAYOUT_SAMPLE: usize = 1000;

/// The measurement in which each node records its place in the list: fields `node`
/// (1-based) and `nodes` (the list's length), no tags. Rewritten at every start.
pub(super) const MARKER: &str = "cw_node";

/// Refuses a node list that disagrees with the data, naming the node, so that reads
/// never silently miss samples stored under another list:
/// - each node's marker (its place and the list's length when a service last started)
///   must match its place now: a node dropped, added or moved changes the length or the
///   places of all the others, whichever node it was;
/// - a node without a marker (set up before markers, or after a migration dropped them)
///   must not hold patients the mapping gives to another node (a sample of its ids).
///
/// Then every node records its place. A failure to record is logged, not fatal: the
/// check above has passed, and the next start records it.
pub(super) async fn check_layout(nodes: &Nodes) -> Result<()> {
    let count = nodes.len();
    for (index, client) in nodes.all().iter().enumerate() {
        let here = format!("influxdb node {} of {count} ({})", index + 1, client.url());
        match read_marker(client).await? {
            Some(recorded) if recorded != (index + 1, count) => {
                return Err(StoreError::Unavailable(format!(
                    "{here} was set up as node {} of {}: a node was added, dropped or moved \
                     in storage.influx.nodes without moving the data; remedy: restore the \
                     node list, or migrate and then DROP MEASUREMENT \"{MARKER}\" on every \
                     node (docs/operations.md, \"Several InfluxDB nodes\")",
                    recorded.0, recorded.1
                )));
            }
            Some(_) => {}
            None if count > 1 => check_sample(client, &here, index, count).await?,
            None => {}
        }
    }
    let at = cw_core::time::now_ns();
    for (index, client) in nodes.all().iter().enumerate() {
        let line = format!("{MARKER} node={}i,nodes={count}i {at}\n", index + 1);
        if let Err(e) = client.write(line).await {
            tracing::warn!(node = index + 1, nodes = count, url = client.url(), error = %e, "could not record this node's place in the node list; the next start tries again");
        }
    }
    Ok(())
}

/// The (node, nodes) a node last recorded, if any.
async fn read_marker(client: &Client) -> Result<Option<(usize, usize)>> {
    let q = format!("SELECT \"node\", \"nodes\" FROM \"{MARKER}\" ORDER BY time DESC LIMIT 1");
    let statement = client.query(&q, false).await?.into_statement()?;
    Ok(marker_of(&statement))
}

fn marker_of(statement: &Statement) -> Option<(usize, usize)> {
    let series = statement.series.first()?;
    let row = series.values.first()?;
    let field = |name: &str| -> Option<usize> {
        let column = series.columns.iter().position(|c| c == name)?;
        usize::try_from(row.get(column)?.as_u64()?).ok()
    };
    Some((field("node")?, field("nodes")?))
}

/// The data check of a node without a marker.
async fn check_sample(client: &Client, here: &str, index: usize, count: usize) -> Result<()> {
    let q = format!("SHOW TAG VALUES WITH KEY = \"patient\" LIMIT {LAYOUT_SAMPLE}");
    let statement = client.query(&q, false).await?.into_statement()?;
    match misplaced(&statement, index, count) {
        Some((patient, owner)) => Err(StoreError::Unavailable(format!(
            "{here} holds samples of shard {}, which the node list maps to node {}: the \
             list, its order or its length changed without moving the data; remedy: \
             restore the node list, or migrate (docs/operations.md, \"Several InfluxDB \
             nodes\")",
            shard_of(&patient),
            owner + 1
        ))),
        None => Ok(()),
    }
}

/// The first patient listed in `statement` (a `SHOW TAG VALUES` answer from node
/// `index`) that belongs on another node, with that node.
fn misplaced(statement: &Statement, index: usize, nodes: usize) -> Option<(PatientId, usize)> {
    statement
        .series
        .iter()
        .flat_map(|series| {
            let column = series.columns.iter().position(|c| c == "value");
            series
                .values
                .iter()
                .filter_map(move |row| row.get(column?)?.as_str())
        })
        .filter_map(|id| PatientId::parse(id).ok())
        .map(|patient| {
            let owner = node_of_shard(shard_of(&patient), nodes);
            (patient, owner)
        })
        .find(|(_, owner)| *owner != index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influx::query;

    #[test]
    fn shards_go_to_nodes_in_contiguous_ranges() {
        let ranges = |n: usize| -> Vec<(u16, u16)> {
            (0..n)
                .map(|node| {
                    let held: Vec<u16> = (0..SHARD_COUNT)
                        .filter(|&s| node_of_shard(s, n) == node)
                        .collect();
                    (held[0], held[held.len() - 1])
                })
                .collect()
        };
        assert_eq!(ranges(1), [(0, 63)]);
        assert_eq!(ranges(2), [(0, 31), (32, 63)]);
        assert_eq!(ranges(3), [(0, 21), (22, 42), (43, 63)]);
        assert_eq!(ranges(4), [(0, 15), (16, 31), (32, 47), (48, 63)]);
        assert_eq!(ranges(64).len(), 64, "one shard a node at most");
    }

    fn nodes_cfg(urls: &[&str]) -> InfluxConfig {
        InfluxConfig {
            nodes: urls
                .iter()
                .map(|url| crate::config::InfluxNodeConfig {
                    url: (*url).to_owned(),
                    ..Default::default()
                })
                .collect(),
            ..InfluxConfig::default()
        }
    }

    #[test]
    fn the_single_url_form_is_one_node() {
        let specs = resolve(&InfluxConfig {
            url: "http://influx:8086".into(),
            ..InfluxConfig::default()
        })
        .expect("valid");
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].url, "http://influx:8086");
    }

    #[test]
    fn a_node_list_conflicting_with_url_or_repeating_a_node_is_refused() {
        let mut both = nodes_cfg(&["http://a:8086", "http://b:8086"]);
        both.url = "http://c:8086".into();
        let Err(error) = resolve(&both) else {
            panic!("url and nodes together must be refused")
        };
        assert!(error.to_string().contains("storage.influx.url"), "{error}");
        let Err(error) = resolve(&nodes_cfg(&["http://a:8086", "http://a:8086/"])) else {
            panic!("a repeated node must be refused")
        };
        assert!(error.to_string().contains("listed twice"), "{error}");
        let many: Vec<String> = (0..65).map(|i| format!("http://n{i}:8086")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            resolve(&nodes_cfg(&many)).is_err(),
            "more nodes than shards"
        );
    }

    #[test]
    fn a_nodes_credential_file_wins_over_the_shared_credentials() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "node-pw\n").expect("written");
        let mut cfg = nodes_cfg(&["http://a:8086", "http://b:8086"]);
        cfg.username = Some("shared".into());
        cfg.password = Some("shared-pw".into());
        cfg.nodes[1].password_file = Some(file);
        cfg.nodes[1].username = Some("own".into());
        let specs = resolve(&cfg).expect("valid");
        use cw_core::secret::ExposeSecret;
        let password = |i: usize| {
            specs[i]
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
        };
        assert_eq!(password(0).as_deref(), Some("shared-pw"));
        assert_eq!(specs[0].username.as_deref(), Some("shared"));
        assert_eq!(password(1).as_deref(), Some("node-pw"));
        assert_eq!(specs[1].username.as_deref(), Some("own"));
        cfg.nodes[0].token_file = Some(dir.path().join("missing"));
        assert!(
            resolve(&cfg).is_err(),
            "an unreadable credential file fails"
        );
    }

    #[test]
    fn gzip_is_off_to_this_host_on_to_others_unless_configured() {
        let gzip = |cfg: &InfluxConfig| -> Vec<bool> {
            resolve(cfg)
                .expect("valid")
                .iter()
                .map(|s| s.gzip)
                .collect()
        };
        for local in [
            "http://127.0.0.1:8086",
            "http://127.3.4.5:8086",
            "https://LOCALHOST:8086",
            "http://[::1]:8086",
        ] {
            let cfg = InfluxConfig {
                url: local.into(),
                ..InfluxConfig::default()
            };
            assert_eq!(gzip(&cfg), [false], "{local}");
        }
        for remote in [
            "http://influx:8086",
            "https://10.0.0.7:8086",
            "http://[fd00::1]",
        ] {
            let cfg = InfluxConfig {
                url: remote.into(),
                ..InfluxConfig::default()
            };
            assert_eq!(gzip(&cfg), [true], "{remote}");
        }
        let mut cfg = nodes_cfg(&["http://127.0.0.1:8086", "http://b:8086", "http://c:8086"]);
        assert_eq!(gzip(&cfg), [false, true, true]);
        cfg.gzip = Some(true);
        cfg.nodes[2].gzip = Some(false);
        assert_eq!(gzip(&cfg), [true, true, false], "a node's own setting wins");
    }

    #[test]
    fn a_marker_reads_as_its_place_and_the_lists_length() {
        let parse = |body: serde_json::Value| {
            let response: query::Response = serde_json::from_value(body).expect("parses");
            marker_of(&response.into_statement().expect("ok"))
        };
        let marked = serde_json::json!({"results": [{"statement_id": 0, "series": [
            {"name": MARKER, "columns": ["time", "node", "nodes"], "values": [[1, 2, 3]]}]}]});
        assert_eq!(parse(marked), Some((2, 3)));
        let none = serde_json::json!({"results": [{"statement_id": 0}]});
        assert_eq!(parse(none), None);
    }

    #[test]
    fn a_patient_of_another_nodes_shard_is_found() {
        let on = |node: usize| {
            (0..)
                .map(|i| PatientId::parse(&format!("p{i}")).expect("valid"))
                .find(|p| node_of_shard(shard_of(p), 2) == node)
                .expect("some patient")
        };
        let body = |ids: &[&PatientId]| {
            let rows: Vec<serde_json::Value> = ids
                .iter()
                .map(|p| serde_json::json!(["patient", p.as_str()]))
                .collect();
            serde_json::json!({"results": [{"statement_id": 0, "series": [
                {"name": "ecg", "columns": ["key", "value"], "values": rows}]}]})
        };
        let (mine, theirs) = (on(0), on(1));
        let response: query::Response = serde_json::from_value(body(&[&mine])).expect("parses");
        let statement = response.into_statement().expect("ok");
        assert!(misplaced(&statement, 0, 2).is_none());
        let response: query::Response =
            serde_json::from_value(body(&[&mine, &theirs])).expect("parses");
        let statement = response.into_statement().expect("ok");
        assert_eq!(misplaced(&statement, 0, 2).map(|(_, node)| node), Some(1));
    }
}
