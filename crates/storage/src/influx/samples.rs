//! `SampleStore` on InfluxDB.

use super::client::Client;
use super::line::{self, MEASUREMENT};
use super::query::{self, PAGE_ROWS};
use crate::config::InfluxConfig;
use crate::ports::{Result, SampleStore, StoreError};
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{PatientId, SampleBlock};

pub struct InfluxSamples {
    client: Client,
    batch_lines: usize,
}

impl InfluxSamples {
    /// Connects and creates the database (`CREATE DATABASE` is idempotent in InfluxQL),
    /// so a failure to reach or authenticate to InfluxDB shows at start.
    pub async fn connect(cfg: &InfluxConfig) -> Result<Self> {
        let client = Client::new(cfg)?;
        let statement = format!("CREATE DATABASE {}", query::quote_ident(client.database()));
        match client.query(&statement, true).await?.into_statement() {
            Ok(_) => {}
            // 2.x / 3.x refuse CREATE DATABASE: there the DBRP mapping is made by ops,
            // and a missing one shows on the first write.
            Err(StoreError::Corrupt(message)) => {
                tracing::warn!(%message, database = client.database(), "CREATE DATABASE refused");
            }
            Err(other) => return Err(other),
        }
        tracing::info!(url = %cfg.url, database = client.database(), "influxdb sample store ready");
        Ok(Self {
            client,
            batch_lines: cfg.batch_lines.max(1),
        })
    }
}

#[async_trait]
impl SampleStore for InfluxSamples {
    async fn write(&self, blocks: &[SampleBlock]) -> Result<()> {
        let mut body = String::new();
        let mut lines = 0;
        for block in blocks {
            let prefix = line::prefix(block);
            for i in 0..block.frames() {
                line::push_frame(&mut body, &prefix, block, i);
                lines += 1;
                if lines == self.batch_lines {
                    self.client.write(std::mem::take(&mut body)).await?;
                    lines = 0;
                }
            }
        }
        if lines > 0 {
            self.client.write(body).await?;
        }
        Ok(())
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
        let mut out = Vec::new();
        let mut cursor = from;
        while cursor < to {
            let q = query::frames_page(MEASUREMENT, patient, cursor, to);
            let statement = self.client.query(&q, false).await?.into_statement()?;
            let truncated = statement.partial || statement.series.iter().any(|s| s.partial);
            let page = query::parse_frames(&statement)?;
            let Some(&(last, _)) = page.last() else { break };
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
