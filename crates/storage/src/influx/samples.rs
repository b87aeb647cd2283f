//! `SampleStore` on InfluxDB.

use super::client::Client;
use super::lifecycle::{DOWNSAMPLED_RP, ECG_DOWNSAMPLED};
use super::line::{self, MEASUREMENT};
use super::query::{self, PAGE_ROWS};
use crate::config::{InfluxConfig, RetentionConfig};
use crate::ports::{EcgEnvelope, Reachable, Result, SampleStore, StoreError};
use crate::redact;
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{PatientId, SampleBlock};
use futures::{StreamExt, TryStreamExt};
use std::ops::Range;

/// Concurrent `/write` requests per `write` call. All must succeed for `Ok`; a failure
/// leaves some batches written, which is harmless because a resend overwrites them.
const WRITES_IN_FLIGHT: usize = 4;

pub struct InfluxSamples {
    client: Client,
    batch_lines: usize,
}

impl InfluxSamples {
    /// Connects and makes sure the database exists, so a failure to reach or
    /// authenticate to InfluxDB shows at start, naming the store, its URL and the remedy.
    pub async fn connect(cfg: &InfluxConfig) -> Result<Self> {
        let client = Client::new(cfg)?;
        let url = redact::url(&cfg.url);
        ensure_database(&client).await.map_err(|(step, e)| {
            StoreError::Unavailable(format!(
                "influxdb at {url} (database {}): {}; remedy: {}",
                client.database(),
                describe(&e),
                step.remedy()
            ))
        })?;
        tracing::info!(%url, database = client.database(), "influxdb sample store ready");
        Ok(Self {
            client,
            batch_lines: cfg.batch_lines.max(1),
        })
    }

    /// Sets up retention and downsampling as `cfg` says, or logs what ops must run
    /// (`lifecycle.rs`). Never fails: the samples are stored either way.
    pub async fn ensure_lifecycle(&self, cfg: &RetentionConfig) {
        super::lifecycle::ensure(&self.client, cfg).await;
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    async fn write_batch(&self, blocks: &[SampleBlock], batch: Batch) -> Result<()> {
        let mut body = String::with_capacity(batch.lines * 48);
        for (index, frames) in batch.parts {
            let block = &blocks[index];
            let prefix = line::prefix(block);
            for i in frames {
                line::push_frame(&mut body, &prefix, block, i);
            }
        }
        self.client.write(body).await
    }
}

#[async_trait]
impl Reachable for InfluxSamples {
    /// A read of the database's measurements: needs the server, our credentials and the
    /// database (a `/ping` would answer without the last two).
    async fn ping(&self) -> Result<()> {
        self.client
            .query("SHOW MEASUREMENTS LIMIT 1", false)
            .await?
            .into_statement()
            .map(drop)
    }
}

#[async_trait]
impl SampleStore for InfluxSamples {
    async fn write(&self, blocks: &[SampleBlock]) -> Result<()> {
        // Each batch is encoded when its request starts, so encoding (and gzip) of one
        // batch overlaps the round trip of the others.
        futures::stream::iter(batches(blocks, self.batch_lines))
            .map(|batch| self.write_batch(blocks, batch))
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_collect::<()>()
            .await
    }

    async fn count_frames(&self, patient: &PatientId, from: Nanos, to: Nanos) -> Result<u64> {
        if from >= to {
            return Ok(0);
        }
        let q = query::count_frames(MEASUREMENT, patient, from, to);
        query::parse_count(&self.client.query(&q, false).await?.into_statement()?)
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
        let mut out = Vec::new();
        let mut cursor = from;
        while cursor < to {
            let q = query::frames_page(source, patient, cursor, to);
            let statement = self.client.query(&q, false).await?.into_statement()?;
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

/// Splits the frames of `blocks` into batches of at most `batch_lines` lines.
fn batches(blocks: &[SampleBlock], batch_lines: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut current = Batch {
        parts: Vec::new(),
        lines: 0,
    };
    for (index, block) in blocks.iter().enumerate() {
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
        let sizes: Vec<usize> = batches(&blocks, 3).iter().map(|b| b.lines).collect();
        assert_eq!(sizes, vec![3, 3, 3]);
        let second: Vec<Range<usize>> = batches(&blocks, 3)[1]
            .parts
            .iter()
            .map(|(_, r)| r.clone())
            .collect();
        assert_eq!(second, vec![3..5, 0..1]);
        assert!(batches(&[], 3).is_empty());
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
                "check that InfluxDB runs at storage.influx.url and that \
                 storage.influx.username/password (or token) are right"
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
