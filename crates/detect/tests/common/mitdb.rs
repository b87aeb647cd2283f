//! The MIT-BIH records in ../shared/data/mitdb (relative to the repository root), loaded
//! whole: samples in µV, interleaved, and the reference annotations.

use std::path::{Path, PathBuf};

use cw_wfdb::{Annotation, Record, read_annotations};

pub struct MitRecord {
    pub fs: f64,
    pub leads: usize,
    pub uv: Vec<i16>,
    pub annotations: Vec<Annotation>,
}

impl MitRecord {
    pub fn frames(&self) -> usize {
        self.uv.len() / self.leads.max(1)
    }
}

pub fn mitdb_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    assert!(
        dir.is_dir(),
        "MIT-BIH data missing at {} (the tests never skip)",
        dir.display()
    );
    dir
}

/// Record names in the folder, sorted.
pub fn record_names() -> Vec<String> {
    let dir = mitdb_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("data folder readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "hea").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no records in {}", dir.display());
    names
}

pub fn load(name: &str) -> MitRecord {
    let path = mitdb_dir().join(name);
    let rec = Record::open(&path).expect("record opens");
    let annotations = read_annotations(path.with_extension("atr")).expect("annotations read");
    MitRecord {
        fs: rec.fs,
        leads: rec.signal_count(),
        uv: rec.microvolts_interleaved(),
        annotations,
    }
}
