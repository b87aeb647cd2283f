//! Undoing premature beats in an RR series before it is judged for atrial fibrillation.
//!
//! A premature ventricular beat does not reset the sinus node: the sinus beat after it
//! comes on schedule, so the short interval into the premature beat and the long
//! (compensatory) one out of it add up to two normal intervals; a couplet's three
//! intervals add up to two or three. Bigeminy, trigeminy, couplets and PVCs with varying
//! coupling make the raw series look irregular (MIT-BIH 106, 119, 208 raised AF), while
//! in AF no such sums recur. So a run of one or two premature intervals (shorter than
//! `PREMATURE` × the reference) closed by a non-premature one whose total is k reference
//! intervals (±`SUM_TOLERANCE`) is replaced by k intervals of its mean. The reference is
//! the last corrected interval or the median of the last three (so a chain survives one
//! interval that did not merge).
//!
//! AF also produces such sums now and then by chance, which would smooth real AF; so the
//! correction is used only when it explains a good part of the window (`MIN_EXPLAINED`),
//! i.e. when ectopy is frequent — exactly when the raw series misleads.

/// An interval under this fraction of the reference is premature.
const PREMATURE: f64 = 0.85;
/// How close a run's total must come to a whole number of reference intervals.
const SUM_TOLERANCE: f64 = 0.08;
/// Longest run merged: two premature intervals and the one closing them (a couplet).
const MAX_RUN: usize = 3;
/// Share of the intervals that merges must explain for the correction to be used.
const MIN_EXPLAINED: f64 = 0.3;

/// The series with premature beats undone (oldest first), or the series itself when
/// merges explain too little of it.
pub fn corrected(rr: &[f32]) -> Vec<f32> {
    let Some(&first) = rr.first() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(rr.len() + 4);
    out.push(f64::from(first));
    let mut explained = 0;
    let mut j = 1;
    while j < rr.len() {
        let consumed = merge_at(rr, j, &mut out);
        explained += consumed;
        j += consumed.max(1);
        if consumed == 0 {
            out.push(f64::from(rr[j - 1]));
        }
    }
    if (explained as f64) < MIN_EXPLAINED * rr.len() as f64 {
        return rr.to_vec();
    }
    out.into_iter().map(|x| x as f32).collect()
}

/// Tries to merge a premature run starting at `rr[j]` into `out`; returns the intervals
/// consumed (0: no merge).
fn merge_at(rr: &[f32], j: usize, out: &mut Vec<f64>) -> usize {
    let last = out.last().copied().unwrap_or_default();
    let mut recent: Vec<f64> = out.iter().rev().take(3).copied().collect();
    recent.sort_by(f64::total_cmp);
    let median = recent[recent.len() / 2];
    for reference in [last, median] {
        if reference <= 0.0 {
            continue;
        }
        let premature = |x: f32| f64::from(x) < PREMATURE * reference;
        if !premature(rr[j]) {
            continue;
        }
        for len in 2..=MAX_RUN {
            let Some(run) = rr.get(j..j + len) else {
                break;
            };
            if !run[..len - 1].iter().all(|x| premature(*x)) {
                break;
            }
            if premature(run[len - 1]) {
                continue;
            }
            let sum: f64 = run.iter().map(|x| f64::from(*x)).sum();
            let k = (sum / reference).round();
            if (1.0..=len as f64).contains(&k)
                && (sum - k * reference).abs() < SUM_TOLERANCE * k * reference
            {
                out.extend(std::iter::repeat_n(sum / k, k as usize));
                return len;
            }
            break;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(v: &[f32]) -> f32 {
        let max = v.iter().copied().fold(f32::MIN, f32::max);
        let min = v.iter().copied().fold(f32::MAX, f32::min);
        max - min
    }

    #[test]
    fn bigeminy_with_varying_coupling_becomes_regular() {
        // Sinus at 0.95 s, then bigeminy whose coupling varies from 0.55 to 0.61 s.
        let rr: Vec<f32> = [0.95, 0.95, 0.95]
            .into_iter()
            .chain((0..20).flat_map(|k| {
                let c = 0.55 + 0.02 * (k % 4) as f32;
                [c, 1.9 - c]
            }))
            .collect();
        let out = corrected(&rr);
        assert!(spread(&out) < 0.02, "{out:?}");
    }

    #[test]
    fn couplets_become_regular() {
        // N-V, V-V, V-N then N-N: the couplet spans two sinus cycles of 1.2 s.
        let rr: Vec<f32> = (0..10)
            .flat_map(|k| {
                let c = 0.54 + 0.01 * (k % 3) as f32;
                [c, 0.55, 2.4 - c - 0.55, 1.2]
            })
            .collect();
        let out = corrected(&rr);
        assert!(spread(&out[4..]) < 0.03, "{out:?}");
    }

    #[test]
    fn a_series_with_rare_ectopy_or_none_is_left_as_it_is() {
        let mut rr = vec![0.8f32; 30];
        rr[10] = 0.5;
        rr[11] = 1.1;
        assert_eq!(corrected(&rr), rr);
    }

    #[test]
    fn irregular_intervals_without_compensation_stay_irregular() {
        let mut x: u32 = 11;
        let rr: Vec<f32> = (0..40)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                0.45 + ((x >> 16) % 550) as f32 / 1000.0
            })
            .collect();
        let out = corrected(&rr);
        assert!(spread(&out) > 0.4, "{out:?}");
    }
}
