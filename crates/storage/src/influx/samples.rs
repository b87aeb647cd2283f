//! `SampleStore` on InfluxDB.

use super::client::Client;
use super::lifecycle::{DOWNSAMPLED_RP, ECG_DOWNSAMPLED};
use super::line::{self, MEASUREMENT};
use super::nodes::{self, NodeSpec, Nodes};
use super::query::{self, PAGE_ROWS};
use crate::config::{InfluxConfig, RetentionConfig};
use crate::ports::{EcgEnvelope, Reachable, Result, SampleNodes, SampleStore, StoreError};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{PatientId, SampleBlock};
use futures::{StreamExt, TryStreamExt};
use std::ops::Range;

/// Concurrent `/write` requests per node per `write` call. All must succeed for `Ok`; a
/// failure leaves some batches written, which is harmless because a resend overwrites
/// them. Ingest calls `write` with one node's blocks at a time (`SampleNodes`), so a
/// node that is down fails only the calls for its own patients.
const WRITES_IN_FLIGHT: usize = 4;

/// Samples on one InfluxDB, or spread over several by patient shard (`nodes.rs`): every
/// write and read of a patient goes to that patient's node; set-up and probes go to all.
pub struct InfluxSamples {
    nodes: Nodes,
    batch_lines: usize,
}

impl InfluxSamples {
    /// Connects to every node and makes sure the database exists on each, so a failure
    /// to reach or authenticate to any shows at start, naming the node, its URL and the
    /// remedy; then checks that the data on the nodes agrees with the node list.
    pub async fn connect(cfg: &InfluxConfig) -> Result<Self> {
        let specs = nodes::resolve(cfg)?;
        let count = specs.len();
        let clients = futures::future::try_join_all(
            specs
                .iter()
                .enumerate()
                .map(|(index, spec)| connect_node(cfg, spec, index, count)),
        )
        .await?;
        let nodes = Nodes::new(clients);
        nodes::check_layout(&nodes).await?;
        Ok(Self {
            nodes,
            batch_lines: cfg.batch_lines.max(1),
        })
    }

    /// Sets up retention and downsampling as `cfg` says on every node, or logs what ops
    /// must run (`lifecycle.rs`). Never fails: the samples are stored either way.
    pub async fn ensure_lifecycle(&self, cfg: &RetentionConfig) {
        for client in self.nodes.all() {
            super::lifecycle::ensure(client, cfg).await;
        }
    }

    /// The client of the node that holds `patient`'s points.
    pub(super) fn client_of(&self, patient: &PatientId) -> &Client {
        self.nodes.of(patient)
    }

    pub(super) fn all_nodes(&self) -> &[Client] {
        self.nodes.all()
    }

    async fn write_batch(&self, blocks: &[SampleBlock], node: usize, batch: Batch) -> Result<()> {
        let mut body = String::with_capacity(batch.lines * 48);
        for (index, frames) in batch.parts {
            let block = &blocks[index];
            let prefix = line::prefix(block);
            for i in frames {
                line::push_frame(&mut body, &prefix, block, i);
            }
        }
        let client = &self.nodes.all()[node];
        client
            .write(body)
            .await
            .map_err(|e| self.naming_node(node, e))
    }

    /// `error` with the node it came from named (its place in the list and URL, never
    /// credentials), so a log line says which node failed.
    pub(super) fn naming_node(&self, node: usize, error: StoreError) -> StoreError {
        let name = node_name(&self.nodes.all()[node], node, self.nodes.len());
        match error {
            StoreError::Corrupt(m) => StoreError::Corrupt(format!("{name}: {m}")),
            other => StoreError::Unavailable(format!("{name}: {}", describe(&other))),
        }
    }

    /// A read of the database's measurements on node `node`: needs the server, our
    /// credentials and the database (a `/ping` would answer without the last two).
    async fn ping_one(&self, node: usize) -> Result<()> {
        let answer = self.nodes.all()[node]
            .query("SHOW MEASUREMENTS LIMIT 1", false)
            .await;
        answer
            .and_then(|response| response.into_statement().map(drop))
            .map_err(|e| self.naming_node(node, e))
    }
}

/// How a node is named in errors: by its place in the list when there are several.
fn node_name(client: &Client, index: usize, count: usize) -> String {
    if count == 1 {
        format!("influxdb at {}", client.url())
    } else {
        format!("influxdb node {} of {count} at {}", index + 1, client.url())
    }
}

async fn connect_node(
    cfg: &InfluxConfig,
    spec: &NodeSpec,
    index: usize,
    count: usize,
) -> Result<Client> {
    let client = Client::new(cfg, spec)?;
    ensure_database(&client).await.map_err(|(step, e)| {
        StoreError::Unavailable(format!(
            "{} (database {}): {}; remedy: {}",
            node_name(&client, index, count),
            client.database(),
            describe(&e),
            step.remedy()
        ))
    })?;
    tracing::info!(
        url = client.url(),
        node = index + 1,
        nodes = count,
        database = client.database(),
        "influxdb sample store ready"
    );
    Ok(client)
}

#[async_trait]
impl Reachable for InfluxSamples {
    /// Every node answers ([`InfluxSamples::ping_one`]); the error names the first that
    /// does not.
    async fn ping(&self) -> Result<()> {
        futures::future::try_join_all((0..self.nodes.len()).map(|node| self.ping_one(node)))
            .await
            .map(drop)
    }
}

#[async_trait]
impl SampleNodes for InfluxSamples {
    fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn node_of(&self, patient: &PatientId) -> usize {
        self.nodes.index_of(patient)
    }

    async fn ping_node(&self, node: usize) -> Result<()> {
        if node >= self.nodes.len() {
            return Err(StoreError::Unavailable(format!(
                "no influxdb node {} of {}",
                node + 1,
                self.nodes.len()
            )));
        }
        self.ping_one(node).await
    }
}

#[async_trait]
impl SampleStore for InfluxSamples {
    async fn write(&self, blocks: &[SampleBlock]) -> Result<()> {
        let mut by_node = vec![Vec::new(); self.nodes.len()];
        for (index, block) in blocks.iter().enumerate() {
            by_node[self.nodes.index_of(&block.patient)].push(index);
        }
        let mut work = Vec::new();
        for (node, indices) in by_node.iter().enumerate() {
            for batch in batches(blocks, indices, self.batch_lines) {
                work.push((node, batch));
            }
        }
        // Each batch is encoded when its request starts, so encoding (and gzip) of one
        // batch overlaps the round trip of the others.
        futures::stream::iter(work)
            .map(|(node, batch)| self.write_batch(blocks, node, batch))
            .buffer_unordered(WRITES_IN_FLIGHT * self.nodes.len())
            .try_collect::<()>()
            .await
    }

    async fn count_frames(&self, patient: &PatientId, from: Nanos, to: Nanos) -> Result<u64> {
        if from >= to {
            return Ok(0);
        }
        let q = query::count_frames(MEASUREMENT, patient, from, to);
        let client = self.client_of(patient);
        query::parse_count(&client.query(&q, false).await?.into_statement()?)
    }

    async fn frames(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<(Nanos, Vec<i16>)>> {
        let source = query::quote_ident(MEASUREMENT);
        self.pages(&source, patient, from, to, query::parse_frames, |f| f.0)
            .await
    }

    async fn downsampled(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<EcgEnvelope>> {
        let source = format!(
            "{}.{}",
            query::quote_ident(DOWNSAMPLED_RP),
            query::quote_ident(ECG_DOWNSAMPLED)
        );
        self.pages(&source, patient, from, to, query::parse_envelopes, |e| {
            e.start_ns
        })
        .await
    }
}

impl InfluxSamples {
    /// Every row of `source` for `patient` in `[from, to)`, read page by page.
    async fn pages<T>(
        &self,
        source: &str,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
        parse: fn(&query::Statement) -> Result<Vec<T>>,
        time_of: fn(&T) -> Nanos,
    ) -> Result<Vec<T>> {
        let client = self.client_of(patient);
        let mut out = Vec::new();
        let mut cursor = from;
        while cursor < to {
            let q = query::frames_page(source, patient, cursor, to);
            let statement = client.query(&q, false).await?.into_statement()?;
            let truncated = statement.partial || statement.series.iter().any(|s| s.partial);
            let page = parse(&statement)?;
            let Some(last) = page.last().map(time_of) else {
                break;
            };
            let full = page.len() >= PAGE_ROWS;
            out.extend(page);
            // A short, complete page is the end; a full or server-truncated one is not.
            if !full && !truncated {
                break;
            }
            cursor = last.saturating_add(1);
        }
        Ok(out)
    }
}

/// The frames of one `/write` request: (block index, frame range) parts.
struct Batch {
    parts: Vec<(usize, Range<usize>)>,
    lines: usize,
}

/// Splits the frames of the blocks at `indices` into batches of at most `batch_lines`
/// lines.
fn batches(blocks: &[SampleBlock], indices: &[usize], batch_lines: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut current = Batch {
        parts: Vec::new(),
        lines: 0,
    };
    for &index in indices {
        let block = &blocks[index];
        let mut start = 0;
        let frames = block.frames();
        while start < frames {
            let take = (frames - start).min(batch_lines - current.lines);
            current.parts.push((index, start..start + take));
            current.lines += take;
            start += take;
            if current.lines == batch_lines {
                out.push(std::mem::replace(
                    &mut current,
                    Batch {
                        parts: Vec::new(),
                        lines: 0,
                    },
                ));
            }
        }
    }
    if current.lines > 0 {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::DeviceId;

    fn block(frames: usize) -> SampleBlock {
        SampleBlock {
            patient: PatientId::parse("p").expect("valid"),
            device: DeviceId::parse("d").expect("valid"),
            seq: 0,
            start_ns: 0,
            rate_hz: 250,
            leads: 1,
            samples_uv: vec![0; frames],
            lead_off: false,
        }
    }

    #[test]
    fn batches_cut_across_blocks_and_never_exceed_the_limit() {
        let blocks = [block(5), block(0), block(4)];
        let all = [0, 1, 2];
        let sizes: Vec<usize> = batches(&blocks, &all, 3).iter().map(|b| b.lines).collect();
        assert_eq!(sizes, vec![3, 3, 3]);
        let second: Vec<Range<usize>> = batches(&blocks, &all, 3)[1]
            .parts
            .iter()
            .map(|(_, r)| r.clone())
            .collect();
        assert_eq!(second, vec![3..5, 0..1]);
        assert!(batches(&[], &[], 3).is_empty());
        let only_last: Vec<usize> = batches(&blocks, &[2], 3)
            .iter()
            .flat_map(|b| b.parts.iter().map(|(index, _)| *index))
            .collect();
        assert_eq!(only_last, vec![2, 2], "only the blocks named");
    }
}

/// `SHOW DATABASES` first: in a deployment the database is usually made by ops (the
/// `influxdb` image's `INFLUXDB_DB` init) and the service's user, with `GRANT ALL` on it
/// but no admin rights, gets 403 for `CREATE DATABASE`. Only a database not listed is
/// created (`CREATE DATABASE` is idempotent in InfluxQL).
async fn ensure_database(client: &Client) -> std::result::Result<(), (StartupStep, StoreError)> {
    let listed = client
        .query("SHOW DATABASES", false)
        .await
        .map_err(|e| (StartupStep::Connect, e))?;
    if let Ok(statement) = listed.into_statement()
        && query::first_column(&statement).any(|name| name == client.database())
    {
        tracing::info!(
            database = client.database(),
            "influxdb database exists (managed by ops); not creating it"
        );
        return Ok(());
    }
    let statement = format!("CREATE DATABASE {}", query::quote_ident(client.database()));
    let created = client
        .query(&statement, true)
        .await
        .map_err(|e| (StartupStep::Create, e))?;
    match created.into_statement() {
        Ok(_) => {
            tracing::info!(database = client.database(), "influxdb database created");
            Ok(())
        }
        // 2.x / 3.x refuse CREATE DATABASE: there the DBRP mapping is made by ops,
        // and a missing one shows on the first write.
        Err(StoreError::Corrupt(message)) => {
            tracing::warn!(%message, database = client.database(), "CREATE DATABASE refused");
            Ok(())
        }
        Err(other) => Err((StartupStep::Create, other)),
    }
}

/// Which start-up step failed decides the remedy an operator reads.
#[derive(Clone, Copy)]
enum StartupStep {
    Connect,
    Create,
}

impl StartupStep {
    fn remedy(self) -> &'static str {
        match self {
            StartupStep::Connect => {
                "check that InfluxDB runs at storage.influx.url (or that node of \
                 storage.influx.nodes) and that its username/password (or token) are right"
            }
            StartupStep::Create => {
                "the database is missing and this user may not create it: create it as an \
                 InfluxDB admin (the influxdb image does with INFLUXDB_DB) and GRANT ALL on it \
                 to this user, or give storage.influx an admin user"
            }
        }
    }
}

fn describe(error: &StoreError) -> String {
    match error {
        StoreError::Unavailable(m) | StoreError::Corrupt(m) => m.clone(),
        other => other.to_string(),
    }
}
