//! The annotated records an example replays: `[DIR [RECORD…]]` from the command line
//! (default `../shared/data/DB` beside the repo), every `NAME.hea` with a `NAME.atr`.

use std::path::{Path, PathBuf};

/// The folder and the names of its annotated records (only those named, if any), sorted.
pub fn from_args(default_db: &str) -> (PathBuf, Vec<String>) {
    let mut args = std::env::args().skip(1);
    let dir: PathBuf = args.next().map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../../shared/data/{default_db}")),
        PathBuf::from,
    );
    let only: Vec<String> = args.collect();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("data folder readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "hea" && p.with_extension("atr").is_file())
                .then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .filter(|n| only.is_empty() || only.contains(n))
        .collect();
    names.sort();
    (dir, names)
}

/// One record read: its rate, lead count, reference annotations and samples (µV,
/// interleaved).
pub struct Annotated {
    pub fs: f64,
    pub leads: usize,
    pub reference: cw_ec57::Reference,
    pub uv: Vec<i16>,
}

pub fn open(dir: &Path, name: &str) -> Annotated {
    let path = dir.join(name);
    let rec = cw_wfdb::Record::open(&path).expect("record opens");
    let ann = cw_wfdb::read_annotations(path.with_extension("atr")).expect("annotations read");
    let (fs, leads) = (rec.fs, rec.signal_count().max(1));
    Annotated {
        fs,
        leads,
        reference: cw_ec57::Reference::from_annotations(fs, rec.len() as u64, &ann),
        uv: rec.microvolts_interleaved(),
    }
}
