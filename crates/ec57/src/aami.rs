//! The AAMI beat classes of ANSI/AAMI EC57 and the MIT-BIH labels that belong to each.

/// N normal and bundle-branch beats, S supraventricular ectopic, V ventricular ectopic,
/// F fusion of ventricular and normal, Q paced, fusion of paced and normal, unclassifiable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AamiClass {
    N,
    S,
    V,
    F,
    Q,
}

impl AamiClass {
    pub const ALL: [AamiClass; 5] = [Self::N, Self::S, Self::V, Self::F, Self::Q];

    /// The class of a WFDB beat code (`ecgcodes.h`), None for codes that are not beats.
    /// The grouping is EC57's (as used by de Chazal et al. 2004): escape beats (e, j) are
    /// N; premature supraventricular beats (A a J S) and supraventricular escape (n) are S;
    /// V, E and R-on-T (r) are V; paced (/) and paced fusion (f) are Q, so that paced
    /// records, which EC57 leaves out of the ectopic statistics, cannot score there.
    pub fn from_code(code: u8) -> Option<AamiClass> {
        Some(match code {
            1 | 2 | 3 | 11 | 34 | 25 => Self::N, // N L R j e B
            4 | 7 | 8 | 9 | 35 => Self::S,       // a J A S n
            5 | 10 | 41 => Self::V,              // V E r
            6 => Self::F,                        // F
            12 | 13 | 30 | 38 => Self::Q,        // / Q ? f
            _ => return None,
        })
    }

    /// True for the paced codes (`/`, `f`): a record holding them is a paced record.
    pub fn is_paced_code(code: u8) -> bool {
        matches!(code, 12 | 38)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn letter(self) -> char {
        match self {
            Self::N => 'N',
            Self::S => 'S',
            Self::V => 'V',
            Self::F => 'F',
            Self::Q => 'Q',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wfdb_beat_code_has_a_class_and_nothing_else_does() {
        for code in 0..=63u8 {
            assert_eq!(
                AamiClass::from_code(code).is_some(),
                cw_wfdb::is_beat(code),
                "code {code}"
            );
        }
    }

    #[test]
    fn the_classes_of_the_mitbih_labels() {
        let class = |c| AamiClass::from_code(c).expect("a beat");
        assert_eq!(class(1), AamiClass::N);
        assert_eq!(class(34), AamiClass::N, "atrial escape e");
        assert_eq!(class(11), AamiClass::N, "nodal escape j");
        assert_eq!(class(8), AamiClass::S, "APC A");
        assert_eq!(class(4), AamiClass::S, "aberrated APC a");
        assert_eq!(class(7), AamiClass::S, "nodal premature J");
        assert_eq!(class(10), AamiClass::V, "ventricular escape E");
        assert_eq!(class(6), AamiClass::F);
        assert_eq!(class(12), AamiClass::Q, "paced");
        assert_eq!(class(38), AamiClass::Q, "paced fusion f");
    }
}
