//! WFDB annotation codes (`ecgcodes.h`) that matter to beat scoring and to the codes the
//! ECG export writes.

/// Normal beat (`N`).
pub const NORMAL: u8 = 1;
/// Premature ventricular contraction (`V`).
pub const PVC: u8 = 5;
/// Fusion of ventricular and normal beat (`F`).
pub const FUSION: u8 = 6;
/// Premature or ectopic supraventricular beat (`S`).
pub const SVPB: u8 = 9;
/// Unclassifiable beat (`Q`).
pub const UNKNOWN: u8 = 13;
/// Comment annotation: its AUX text says what.
pub const NOTE: u8 = 22;

/// True for the codes that mark a QRS complex: N L R a V F J A S E j / Q B ? e n f r.
/// Rhythm, noise, artefact, flutter-wave and blocked-APC (`x`, 37) codes are not beats.
pub fn is_beat(code: u8) -> bool {
    matches!(code, 1..=13 | 25 | 30 | 34 | 35 | 38 | 41)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beat_codes() {
        let beats: Vec<u8> = (0..=63).filter(|&c| is_beat(c)).collect();
        assert_eq!(
            beats,
            vec![
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 34, 35, 38, 41
            ]
        );
        assert!(!is_beat(37), "blocked APC has no QRS");
        assert!(!is_beat(28), "rhythm change");
        assert!(!is_beat(31), "flutter wave");
    }
}
