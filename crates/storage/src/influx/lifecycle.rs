//! Retention and downsampling on InfluxDB (docs/operations.md, "Data lifecycle"). The
//! services write to the database's default retention policy, which keeps raw points
//! `raw_days`; continuous queries keep min/max of each ECG lead and mean/min/max of each
//! vital sign per interval in the retention policy [`DOWNSAMPLED_RP`].
//!
//! Every statement here needs an InfluxDB admin. A service connected as the non-admin
//! user ops made (the `influxdb` image's `INFLUXDB_USER`) gets 403: it still starts, and
//! its log names the exact statements ops must run.

use super::client::Client;
use super::query::{Series, quote_ident};
use crate::config::RetentionConfig;
use crate::ports::{Result, StoreError};

/// The retention policy of the downsampled series.
pub const DOWNSAMPLED_RP: &str = "cw_downsampled";
/// ECG downsampled: fields `min_l0`, `max_l0`, … per interval, tag `patient`.
pub const ECG_DOWNSAMPLED: &str = "ecg_downsampled";
/// Vitals downsampled: fields `mean`, `min`, `max` per interval, tags as `vitals`.
pub const VITALS_DOWNSAMPLED: &str = "vitals_downsampled";
/// Continuous queries this service owns start with this; others are left alone.
const CQ_PREFIX: &str = "cw_";

/// What the database has now.
#[derive(Debug, Default)]
struct Current {
    /// The default retention policy: (name, duration as InfluxDB shows it).
    default_rp: Option<(String, String)>,
    /// The duration of [`DOWNSAMPLED_RP`], when it exists.
    downsampled: Option<String>,
    /// Names of this database's continuous queries.
    cqs: Vec<String>,
}

/// Brings retention and downsampling to `cfg`, re-reading after each try because several
/// services start at once and may race for the same statements. Never fails the start:
/// without them the service works and the data grows, so a warning names what ops must
/// run.
pub(super) async fn ensure(client: &Client, cfg: &RetentionConfig) {
    let database = client.database().to_owned();
    let mut last_error = None;
    let mut pending = Vec::new();
    for _ in 0..3 {
        let current = match read(client).await {
            Ok(current) => current,
            Err(e) => {
                pending = plan(&database, cfg, &Current::default());
                last_error = Some(e);
                break;
            }
        };
        pending = plan(&database, cfg, &current);
        if pending.is_empty() {
            tracing::info!(
                database,
                raw_days = cfg.raw_days,
                downsampled_days = cfg.downsampled_days,
                "influxdb retention and downsampling in place"
            );
            return;
        }
        match apply(client, &pending).await {
            Ok(()) => last_error = None,
            Err(e) => last_error = Some(e),
        }
    }
    let error = last_error.map_or_else(|| "changes did not hold".to_owned(), |e| e.to_string());
    tracing::warn!(
        database,
        %error,
        statements = pending.join("; "),
        "influxdb retention and downsampling are not set up and this user may not set them \
         up (InfluxDB admin only): raw ECG is kept forever and nothing is downsampled until \
         an InfluxDB admin runs these statements (docs/operations.md, \"Data lifecycle\")"
    );
}

async fn apply(client: &Client, statements: &[String]) -> Result<()> {
    for statement in statements {
        client.query(statement, true).await?.into_statement()?;
    }
    Ok(())
}

async fn read(client: &Client) -> Result<Current> {
    let database = client.database();
    let rps = client
        .query(
            &format!("SHOW RETENTION POLICIES ON {}", quote_ident(database)),
            false,
        )
        .await?
        .into_statement()?;
    let mut current = Current::default();
    for row in rows(&rps.series, &["name", "duration", "default"])? {
        let (name, duration) = (text(&row[0])?, text(&row[1])?);
        if row[2].as_bool() == Some(true) {
            current.default_rp = Some((name.clone(), duration.clone()));
        }
        if name == DOWNSAMPLED_RP {
            current.downsampled = Some(duration);
        }
    }
    let cqs = client
        .query("SHOW CONTINUOUS QUERIES", false)
        .await?
        .into_statement()?;
    // One series per database, named after it.
    let ours = cqs.series.iter().filter(|s| s.name == database);
    for row in rows(ours, &["name"])? {
        current.cqs.push(text(&row[0])?);
    }
    Ok(current)
}

/// The values of `columns` in every row of `series`.
fn rows<'a>(
    series: impl IntoIterator<Item = &'a Series>,
    columns: &[&str],
) -> Result<Vec<Vec<serde_json::Value>>> {
    let mut out = Vec::new();
    for series in series {
        let positions = columns
            .iter()
            .map(|c| {
                series
                    .columns
                    .iter()
                    .position(|have| have == c)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "influxdb answered columns {:?}",
                            series.columns
                        ))
                    })
            })
            .collect::<Result<Vec<usize>>>()?;
        for row in &series.values {
            out.push(
                positions
                    .iter()
                    .map(|&p| row.get(p).cloned().unwrap_or_default())
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn text(value: &serde_json::Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt(format!("influxdb answered {value} for a name")))
}

/// A duration of whole days as InfluxQL writes it, and as `SHOW RETENTION POLICIES`
/// shows it; 0 days is INF (shown as `0s`).
fn durations(days: u32) -> (String, String) {
    if days == 0 {
        ("INF".to_owned(), "0s".to_owned())
    } else {
        let hours = u64::from(days) * 24;
        (format!("{hours}h"), format!("{hours}h0m0s"))
    }
}

/// The continuous queries `cfg` asks for: (name, statement). Their parameters are in the
/// name, so a changed config is a missing name (created) and a stale one (dropped);
/// InfluxDB cannot alter a continuous query.
fn wanted_cqs(database: &str, cfg: &RetentionConfig) -> Vec<(String, String)> {
    let every = cfg.every_s.max(1);
    let ecg_ms = cfg.ecg_interval_ms.max(1);
    let vitals_s = cfg.vitals_interval_s.max(1);
    let db = quote_ident(database);
    let rp = quote_ident(DOWNSAMPLED_RP);
    let cq = |name: String, window_s: u64, select: String| {
        // FOR must cover at least one interval; EVERY must not exceed FOR.
        let for_s = u64::from(cfg.late_s).max(window_s).max(u64::from(every));
        let statement = format!(
            "CREATE CONTINUOUS QUERY {} ON {db} RESAMPLE EVERY {every}s FOR {for_s}s BEGIN {select} END",
            quote_ident(&name)
        );
        (name, statement)
    };
    vec![
        cq(
            format!(
                "{CQ_PREFIX}ecg_{ecg_ms}ms_every{every}s_late{}s",
                cfg.late_s
            ),
            u64::from(ecg_ms).div_ceil(1000),
            format!(
                "SELECT min(*), max(*) INTO {db}.{rp}.{} FROM \"ecg\" GROUP BY time({ecg_ms}ms), *",
                quote_ident(ECG_DOWNSAMPLED)
            ),
        ),
        cq(
            format!(
                "{CQ_PREFIX}vitals_{vitals_s}s_every{every}s_late{}s",
                cfg.late_s
            ),
            u64::from(vitals_s),
            format!(
                "SELECT mean(\"value\"), min(\"value\"), max(\"value\") INTO {db}.{rp}.{} \
                 FROM \"vitals\" GROUP BY time({vitals_s}s), *",
                quote_ident(VITALS_DOWNSAMPLED)
            ),
        ),
    ]
}

/// The statements that bring `current` to `cfg`, in the order they must run (the
/// downsampled policy before the queries that write into it).
fn plan(database: &str, cfg: &RetentionConfig, current: &Current) -> Vec<String> {
    let db = quote_ident(database);
    let mut out = Vec::new();
    let (raw, raw_shown) = durations(cfg.raw_days);
    match &current.default_rp {
        Some((_, shown)) if *shown == raw_shown => {}
        Some((name, _)) => {
            // A day per shard group: InfluxDB expires whole shard groups, so raw points
            // outlive the window by at most a day.
            let shard = if cfg.raw_days == 0 {
                ""
            } else {
                " SHARD DURATION 1d"
            };
            out.push(format!(
                "ALTER RETENTION POLICY {} ON {db} DURATION {raw}{shard}",
                quote_ident(name)
            ));
        }
        // Not readable (or none): what ops would run on the image's default policy.
        None => out.push(format!(
            "ALTER RETENTION POLICY \"autogen\" ON {db} DURATION {raw}{}",
            if cfg.raw_days == 0 {
                ""
            } else {
                " SHARD DURATION 1d"
            }
        )),
    }
    let (kept, kept_shown) = durations(cfg.downsampled_days);
    let rp = quote_ident(DOWNSAMPLED_RP);
    match &current.downsampled {
        Some(shown) if *shown == kept_shown => {}
        Some(_) => out.push(format!(
            "ALTER RETENTION POLICY {rp} ON {db} DURATION {kept}"
        )),
        None => out.push(format!(
            "CREATE RETENTION POLICY {rp} ON {db} DURATION {kept} REPLICATION 1"
        )),
    }
    let wanted = wanted_cqs(database, cfg);
    for stale in current
        .cqs
        .iter()
        .filter(|name| name.starts_with(CQ_PREFIX) && !wanted.iter().any(|(w, _)| w == *name))
    {
        out.push(format!(
            "DROP CONTINUOUS QUERY {} ON {db}",
            quote_ident(stale)
        ));
    }
    for (name, statement) in wanted {
        if !current.cqs.contains(&name) {
            out.push(statement);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_place(cfg: &RetentionConfig) -> Current {
        Current {
            default_rp: Some(("autogen".into(), durations(cfg.raw_days).1)),
            downsampled: Some(durations(cfg.downsampled_days).1),
            cqs: wanted_cqs("cw", cfg).into_iter().map(|(n, _)| n).collect(),
        }
    }

    #[test]
    fn a_fresh_database_gets_the_raw_window_the_downsampled_policy_and_both_queries() {
        let cfg = RetentionConfig::default();
        let current = Current {
            default_rp: Some(("autogen".into(), "0s".into())),
            ..Current::default()
        };
        let plan = plan("cw", &cfg, &current);
        assert_eq!(
            plan[..2],
            [
                "ALTER RETENTION POLICY \"autogen\" ON \"cw\" DURATION 2160h SHARD DURATION 1d",
                "CREATE RETENTION POLICY \"cw_downsampled\" ON \"cw\" DURATION INF REPLICATION 1",
            ]
        );
        assert_eq!(plan.len(), 4, "{plan:#?}");
        assert!(plan[2].contains("SELECT min(*), max(*) INTO \"cw\".\"cw_downsampled\".\"ecg_downsampled\" FROM \"ecg\" GROUP BY time(1000ms), *"));
        assert!(plan[2].contains("RESAMPLE EVERY 60s FOR 600s"));
        assert!(plan[3].contains("GROUP BY time(60s), *"));
    }

    #[test]
    fn nothing_to_do_when_everything_is_in_place() {
        let cfg = RetentionConfig::default();
        assert!(plan("cw", &cfg, &in_place(&cfg)).is_empty());
    }

    #[test]
    fn a_changed_interval_drops_the_old_query_and_creates_the_new_one() {
        let before = RetentionConfig::default();
        let after = RetentionConfig {
            ecg_interval_ms: 500,
            ..RetentionConfig::default()
        };
        let mut current = in_place(&before);
        current.cqs.push("someone_elses".into());
        let plan = plan("cw", &after, &current);
        assert_eq!(plan.len(), 2, "{plan:#?}");
        assert_eq!(
            plan[0],
            "DROP CONTINUOUS QUERY \"cw_ecg_1000ms_every60s_late600s\" ON \"cw\""
        );
        assert!(plan[1].contains("GROUP BY time(500ms)"));
    }

    #[test]
    fn zero_days_keeps_forever() {
        let cfg = RetentionConfig {
            raw_days: 0,
            downsampled_days: 3650,
            ..RetentionConfig::default()
        };
        let mut current = in_place(&RetentionConfig::default());
        current.default_rp = Some(("ops_rp".into(), "2160h0m0s".into()));
        let plan = plan("cw", &cfg, &current);
        assert_eq!(
            plan,
            [
                "ALTER RETENTION POLICY \"ops_rp\" ON \"cw\" DURATION INF",
                "ALTER RETENTION POLICY \"cw_downsampled\" ON \"cw\" DURATION 87600h",
            ]
        );
    }
}
