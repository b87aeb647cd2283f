//! Beat classification on the MIT-BIH records, per record and gross, with the confusion
//! matrix, for tuning: `cargo run -p cw-detect --release --example classify_eval
//! [-- RATE_HZ [RECORD…]]` (RATE_HZ 0: as recorded).

#[path = "../tests/common/classes.rs"]
mod classes;
#[path = "../tests/common/mitdb.rs"]
mod mitdb;
#[path = "../tests/common/resample.rs"]
mod resample;

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: Option<f64> = args
        .next()
        .and_then(|a| a.parse().ok())
        .filter(|r| *r > 0.0);
    let mut names: Vec<String> = args.collect();
    if names.is_empty() {
        names = mitdb::record_names();
    }
    let mut table = classes::Table::new(&format!("rate {rate:?}"));
    for name in &names {
        let (m, paced) = classes::score_record(name, rate);
        table.add(name, &m, paced);
    }
    let table = table.finish();
    println!("{}", table.text);
    println!("confusion (rows reference N S V F Q none, columns detected N S V F Q missed):");
    for row in table.gross.counts {
        println!("  {row:?}");
    }
}
