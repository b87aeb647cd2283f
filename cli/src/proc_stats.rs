//! What the benches read about this process from Linux `/proc`: CPU seconds (of the
//! process, or of the calling thread), memory, and the machine's load average, which
//! `docs/benchmarks.md` states beside every figure measured on the shared box. Each
//! returns 0 (or an empty string) where `/proc` cannot be read.

/// User + system CPU seconds of this process.
pub fn process_cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self/stat")
}

/// User + system CPU seconds of the calling thread (`/proc/thread-self`, Linux ≥ 3.17).
pub fn thread_cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/thread-self/stat")
}

fn cpu_seconds_in(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / clock_ticks_per_s()
}

fn clock_ticks_per_s() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A `/proc/self/status` memory field in KiB (`VmRSS:`, `VmHWM:`).
pub fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The 1, 5 and 15 minute load averages as `/proc/loadavg` prints them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
