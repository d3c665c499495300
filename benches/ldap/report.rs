//! Summary statistics and the Markdown table of results.

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

#[derive(Clone, Copy)]
pub enum Better {
    Lower,
    Higher,
}

pub struct Row {
    pub what: String,
    pub unit: &'static str,
    pub decimals: usize,
    pub adsim: Option<f64>,
    pub slapd: Option<f64>,
    pub better: Better,
}

impl Row {
    pub fn new(what: impl Into<String>, unit: &'static str, decimals: usize, better: Better) -> Row {
        Row {
            what: what.into(),
            unit,
            decimals,
            adsim: None,
            slapd: None,
            better,
        }
    }

    pub fn values(mut self, adsim: Option<f64>, slapd: Option<f64>) -> Row {
        self.adsim = adsim;
        self.slapd = slapd;
        self
    }

    fn cell(&self, value: Option<f64>) -> String {
        match value {
            Some(v) => format!("{v:.*}", self.decimals),
            None => "n/a".into(),
        }
    }

    fn ratio(&self) -> String {
        match (self.adsim, self.slapd) {
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

/// The report: a heading with the run's context, the table, then notes.
pub fn render(context: &[String], rows: &[Row], notes: &[String]) -> String {
    let mut out = String::from("## adsim vs OpenLDAP slapd (one run, same machine)\n\n");
    for line in context {
        let _ = writeln!(out, "- {line}");
    }
    out.push_str("\n| measure | unit | adsim | slapd | adsim/slapd | better |\n");
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
            row.cell(row.adsim),
            row.cell(row.slapd),
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
