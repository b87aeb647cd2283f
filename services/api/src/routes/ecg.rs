//! `GET /v1/patients/{id}/ecg?from_ns=&to_ns=&max_points=` — the ECG strip. Up to
//! `max_points` frames come raw; a longer range comes as min/max per bucket per lead
//! (what a plot needs: every spike stays visible), so a response stays small. A range
//! that starts before the raw retention (`storage.retention.raw_days`) is read from the
//! downsampled series, the only ECG left there (docs/operations.md, "Data lifecycle").

use crate::access::{Caller, parse_patient};
use crate::access_rule::Access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::query::ValidQuery;
use axum::Json;
use axum::extract::{Path, State};
use cw_core::time::{NANOS_PER_SEC, Nanos, now_ns};
use cw_storage::{EcgEnvelope, RetentionConfig};
use serde::{Deserialize, Serialize};

/// The longest range one request may ask for.
pub(crate) const MAX_RANGE_NS: Nanos = 3600 * NANOS_PER_SEC;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EcgQuery {
    pub from_ns: Nanos,
    pub to_ns: Nanos,
    /// 10–20000, default 4000.
    pub max_points: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    pub start_ns: Nanos,
    pub min: Vec<i16>,
    pub max: Vec<i16>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Strip {
    /// Every frame: (time, µV per lead).
    Raw { frames: Vec<(Nanos, Vec<i16>)> },
    /// Min and max per lead over each `bucket_ns`.
    MinMax {
        bucket_ns: Nanos,
        buckets: Vec<Bucket>,
    },
    /// The range starts before the raw retention: min and max per lead over each
    /// `bucket_ns` (the downsampling interval, or a multiple of it to stay within
    /// `max_points`), from the downsampled series.
    Downsampled {
        bucket_ns: Nanos,
        buckets: Vec<Bucket>,
    },
}

/// Raw ECG is kept `raw_days` (0: forever), then only its min/max per `interval_ns`.
#[derive(Clone, Copy, Debug)]
pub struct EcgRetention {
    pub raw_days: u32,
    pub interval_ns: Nanos,
}

impl From<&RetentionConfig> for EcgRetention {
    fn from(cfg: &RetentionConfig) -> Self {
        Self {
            raw_days: cfg.raw_days,
            interval_ns: Nanos::from(cfg.ecg_interval_ms.max(1)) * 1_000_000,
        }
    }
}

impl EcgRetention {
    /// Whether raw samples at `from_ns` are past the retention at `now`.
    fn beyond_raw(&self, from_ns: Nanos, now: Nanos) -> bool {
        let window = Nanos::from(self.raw_days).saturating_mul(86_400 * NANOS_PER_SEC);
        self.raw_days > 0 && from_ns < now.saturating_sub(window)
    }
}

#[utoipa::path(get, path = "/v1/patients/{id}/ecg", summary = "ECG range; min/max per bucket when long",
    extensions(("x-access" = json!(Access::PatientRead))),
    params(("id" = String, Path, description = "patient id"), EcgQuery),
    responses((status = 200, body = Strip)))]
pub async fn range(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<EcgQuery>,
) -> Result<Json<Strip>, ApiError> {
    let patient = parse_patient(&id)?;
    caller.require_patient(&state, &patient).await?;
    let width_ns = range_width(q.from_ns, q.to_ns, MAX_RANGE_NS)?;
    let max_points = q.max_points.unwrap_or(4000);
    if !(10..=20_000).contains(&max_points) {
        return Err(ApiError::Invalid {
            field: Some("max_points".into()),
            message: "max_points is between 10 and 20000".into(),
        });
    }
    // Two values (min, max) per bucket: half as many buckets as points.
    let buckets_wanted = (max_points / 2).max(1) as Nanos;
    // `width_ns` is at most an hour, so this neither overflows nor rounds to 0.
    let bucket_ns = (width_ns + buckets_wanted - 1) / buckets_wanted;
    let retention = state.ecg_retention;
    if retention.beyond_raw(q.from_ns, now_ns()) {
        let rows = state
            .samples
            .downsampled(&patient, q.from_ns, q.to_ns)
            .await?;
        if rows.len() as Nanos <= buckets_wanted {
            let buckets = rows.into_iter().map(Bucket::from).collect();
            return Ok(Json(Strip::Downsampled {
                bucket_ns: retention.interval_ns,
                buckets,
            }));
        }
        let bucket_ns = bucket_ns.max(retention.interval_ns);
        let rows = rows.iter().map(|r| (r.start_ns, &r.min[..], &r.max[..]));
        return Ok(Json(Strip::Downsampled {
            bucket_ns,
            buckets: fold(rows, q.from_ns, bucket_ns),
        }));
    }
    let frames = state.samples.frames(&patient, q.from_ns, q.to_ns).await?;
    if frames.len() <= max_points {
        return Ok(Json(Strip::Raw { frames }));
    }
    Ok(Json(Strip::MinMax {
        bucket_ns,
        buckets: min_max(&frames, q.from_ns, bucket_ns),
    }))
}

impl From<EcgEnvelope> for Bucket {
    fn from(row: EcgEnvelope) -> Self {
        Self {
            start_ns: row.start_ns,
            min: row.min,
            max: row.max,
        }
    }
}

/// `to - from`, when `to` is after `from` and at most `max_ns` later. Checked: both ends
/// come from the client, and a wrapped width (e.g. `i64::MIN..i64::MAX`) once passed the
/// cap and read the whole history (issue 13 #3). Also the beats route's check.
pub(crate) fn range_width(from_ns: Nanos, to_ns: Nanos, max_ns: Nanos) -> Result<Nanos, ApiError> {
    match to_ns.checked_sub(from_ns) {
        Some(width) if width > 0 && width <= max_ns => Ok(width),
        _ => Err(ApiError::Invalid {
            field: Some("to_ns".into()),
            message: format!(
                "to_ns is after from_ns and at most {} s later",
                max_ns / NANOS_PER_SEC
            ),
        }),
    }
}

/// Frames (in time order) folded into buckets of `bucket_ns` from `from`; empty buckets
/// are left out (a gap in the signal stays a gap).
fn min_max(frames: &[(Nanos, Vec<i16>)], from: Nanos, bucket_ns: Nanos) -> Vec<Bucket> {
    fold(
        frames.iter().map(|(t, v)| (*t, &v[..], &v[..])),
        from,
        bucket_ns,
    )
}

/// (time, minima, maxima) per lead, in time order, folded into buckets of `bucket_ns`
/// from `from`; empty buckets are left out.
fn fold<'a>(
    items: impl Iterator<Item = (Nanos, &'a [i16], &'a [i16])>,
    from: Nanos,
    bucket_ns: Nanos,
) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for (t, mins, maxs) in items {
        let start_ns = from + (t - from) / bucket_ns * bucket_ns;
        match out.last_mut() {
            Some(b) if b.start_ns == start_ns && b.min.len() == mins.len() => {
                for (i, (lo, hi)) in mins.iter().zip(maxs).enumerate() {
                    b.min[i] = b.min[i].min(*lo);
                    b.max[i] = b.max[i].max(*hi);
                }
            }
            _ => out.push(Bucket {
                start_ns,
                min: mins.to_vec(),
                max: maxs.to_vec(),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_wider_than_an_hour_or_backwards_is_refused_even_when_its_width_overflows() {
        assert_eq!(
            range_width(0, MAX_RANGE_NS, MAX_RANGE_NS).ok(),
            Some(MAX_RANGE_NS)
        );
        for (from, to) in [
            (0, MAX_RANGE_NS + 1),
            (5, 5),
            (6, 5),
            (i64::MIN, i64::MAX),
            (-6_000_000_000_000_000_000, 6_000_000_000_000_000_000),
            (i64::MAX, i64::MIN),
        ] {
            assert!(range_width(from, to, MAX_RANGE_NS).is_err(), "{from}..{to}");
        }
    }

    #[test]
    fn only_a_range_starting_before_the_raw_window_is_beyond_it() {
        let day = 86_400 * NANOS_PER_SEC;
        let kept = EcgRetention {
            raw_days: 90,
            interval_ns: NANOS_PER_SEC,
        };
        let now = 1_000 * day;
        assert!(kept.beyond_raw(now - 90 * day - 1, now));
        assert!(!kept.beyond_raw(now - 90 * day, now));
        let forever = EcgRetention {
            raw_days: 0,
            ..kept
        };
        assert!(!forever.beyond_raw(0, now));
    }

    #[test]
    fn downsampled_rows_fold_into_wider_buckets_by_their_extremes() {
        let rows = [
            (0, &[1, -1][..], &[5, 3][..]),
            (10, &[-4, 0][..], &[2, 9][..]),
            (20, &[0, 0][..], &[1, 1][..]),
        ];
        let buckets = fold(rows.into_iter(), 0, 20);
        assert_eq!(buckets.len(), 2);
        assert_eq!(
            (buckets[0].min.clone(), buckets[0].max.clone()),
            (vec![-4, -1], vec![5, 9])
        );
        assert_eq!(buckets[1].start_ns, 20);
    }

    #[test]
    fn min_max_keeps_each_buckets_extremes_per_lead_and_skips_gaps() {
        let frames = vec![
            (0, vec![1, -1]),
            (5, vec![9, -3]),
            (10, vec![2, 2]),
            (35, vec![4, 0]),
        ];
        let buckets = min_max(&frames, 0, 10);
        assert_eq!(buckets.len(), 3);
        assert_eq!(
            (buckets[0].min.clone(), buckets[0].max.clone()),
            (vec![1, -3], vec![9, -1])
        );
        assert_eq!(buckets[1].start_ns, 10);
        assert_eq!(buckets[2].start_ns, 30);
    }
}
