//! Summary statistics, the run's context and the Markdown table of results. Shared by the
//! `ldap`, `gmsa` and `kerberos` benchmarks (each table has a measured column and a baseline).

use std::fmt::Write;
use std::time::Duration;

/// Median (mean of the two middle values for an even count) and 90th percentile (nearest rank).
pub fn median_p90(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    assert!(n > 0, "no samples");
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    let rank = (n * 9).div_ceil(10);
    (median, sorted[rank - 1])
}

/// Median, as in [`median_p90`].
pub fn median_u64(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    assert!(n > 0, "no samples");
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// The middle value (the upper one of the two middle values for an even count), or None.
pub fn median_f64(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

#[derive(Clone, Copy)]
pub enum Better {
    Lower,
    Higher,
}

pub struct Row {
    pub what: String,
    pub unit: &'static str,
    pub decimals: usize,
    /// The measured column (adsim, or the gMSA read).
    pub measured: Option<f64>,
    /// The baseline column, taken in the same run.
    pub baseline: Option<f64>,
    pub better: Better,
}

impl Row {
    pub fn new(what: impl Into<String>, unit: &'static str, decimals: usize, better: Better) -> Row {
        Row {
            what: what.into(),
            unit,
            decimals,
            measured: None,
            baseline: None,
            better,
        }
    }

    pub fn values(mut self, measured: Option<f64>, baseline: Option<f64>) -> Row {
        self.measured = measured;
        self.baseline = baseline;
        self
    }

    fn cell(&self, value: Option<f64>) -> String {
        match value {
            Some(v) => format!("{v:.*}", self.decimals),
            None => "n/a".into(),
        }
    }

    fn ratio(&self) -> String {
        match (self.measured, self.baseline) {
            (Some(a), Some(s)) if s > 0.0 => format!("{:.2}", a / s),
            _ => "n/a".into(),
        }
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The two value columns of a table: the measured one and its baseline.
pub struct Columns {
    pub measured: &'static str,
    pub baseline: &'static str,
}

/// The report: a heading with the run's context, the table, then notes.
pub fn render(title: &str, columns: &Columns, context: &[String], rows: &[Row], notes: &[String]) -> String {
    let mut out = format!("## {title}\n\n");
    for line in context {
        let _ = writeln!(out, "- {line}");
    }
    let Columns { measured, baseline } = columns;
    let _ = writeln!(
        out,
        "\n| measure | unit | {measured} | {baseline} | {measured}/{baseline} | better |"
    );
    out.push_str("|---|---|---:|---:|---:|---|\n");
    for row in rows {
        let better = match row.better {
            Better::Lower => "lower",
            Better::Higher => "higher",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {better} |",
            row.what,
            row.unit,
            row.cell(row.measured),
            row.cell(row.baseline),
            row.ratio()
        );
    }
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

/// The run's date (RFC 3339, UTC).
pub fn run_date() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    adsim_simulator::clock::NtTime::from_unix_seconds(now).to_rfc3339()
}

fn first_line(path: &str, prefix: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .map(|l| l.split(':').nth(1).unwrap_or(l).trim().to_string())
    })
}

/// CPUs, CPU model, kernel and load average: how busy the shared machine was.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = first_line("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "machine: {cpus} CPUs ({cpu}), Linux {}, load average at start {}",
        kernel.trim(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

/// The short commit of the source tree the benchmark was built from.
pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// How adsim was built: only release figures mean anything.
pub fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "DEBUG build: figures not meaningful, use `cargo bench`"
    } else {
        "release build"
    }
}

/// `target/<name>`: next to the benchmark binary's `target/<profile>/deps/`.
pub fn report_path(name: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(std::path::PathBuf::from))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")))
        .join(name)
}
