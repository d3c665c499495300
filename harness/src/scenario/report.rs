//! Results of scenario runs: a readable per-step report and JUnit XML (one testsuite per
//! scenario, one testcase per step) for CI systems.

use std::fmt::Write as _;
use std::time::Duration;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub what: String,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Passed,
    /// Expectations that did not hold.
    Failed(Vec<Mismatch>),
    /// The step could not be carried out (a scenario or environment problem).
    Error(String),
    /// Not run: the forest could not be set up.
    Skipped,
}

#[derive(Debug, Clone)]
pub struct StepReport {
    /// 1-based.
    pub index: usize,
    /// The step's `name`, or a summary of what it does.
    pub title: String,
    /// What was done, e.g. `search as WEB01$ over LDAPS at corp.example.test`.
    pub summary: String,
    /// What came back, one short line each (no secrets).
    pub observed: Vec<String>,
    pub status: StepStatus,
    pub duration: Duration,
}

#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    pub path: String,
    /// Set-up failure (the forest could not be started or populated).
    pub setup_error: Option<String>,
    pub steps: Vec<StepReport>,
    pub duration: Duration,
}

impl ScenarioReport {
    pub fn failures(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Failed(_)))
            .count()
    }

    pub fn errors(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Error(_)))
            .count()
            + usize::from(self.setup_error.is_some())
    }

    pub fn passed(&self) -> bool {
        self.failures() == 0 && self.errors() == 0
    }

    /// The readable report: a header, then one line per step, with expected vs actual under a
    /// failed one.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{verdict} {} ({}, {} steps, {:.2} s)",
            self.name,
            self.path,
            self.steps.len(),
            self.duration.as_secs_f64()
        );
        if let Some(e) = &self.setup_error {
            let _ = writeln!(out, "  setup ERROR: {e}");
        }
        for s in &self.steps {
            let mark = match &s.status {
                StepStatus::Passed => "ok  ",
                StepStatus::Failed(_) => "FAIL",
                StepStatus::Error(_) => "ERR ",
                StepStatus::Skipped => "skip",
            };
            let _ = writeln!(
                out,
                "  {mark} {:>2}. {} ({} ms)",
                s.index,
                s.title,
                s.duration.as_millis()
            );
            if s.title != s.summary {
                let _ = writeln!(out, "           {}", s.summary);
            }
            match &s.status {
                StepStatus::Failed(ms) => {
                    for m in ms {
                        let _ = writeln!(out, "           {}:", m.what);
                        let _ = writeln!(out, "             expected: {}", m.expected);
                        let _ = writeln!(out, "             actual:   {}", m.actual);
                    }
                    for o in &s.observed {
                        let _ = writeln!(out, "           observed: {o}");
                    }
                }
                StepStatus::Error(e) => {
                    let _ = writeln!(out, "           error: {e}");
                }
                StepStatus::Passed | StepStatus::Skipped => {}
            }
        }
        out
    }
}

/// The one-line summary after all scenarios: `N passed, N failed`.
pub fn summary_line(reports: &[ScenarioReport]) -> String {
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!("{passed} passed, {} failed", reports.len() - passed)
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows only these control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML (the Ant/Surefire schema CI systems read): `<testsuites>` with one `<testsuite>`
/// per scenario and one `<testcase>` per step; failed expectations as `<failure>`, steps that
/// could not run as `<error>`, set-up failures as an `<error>` testcase named `setup`.
pub fn junit_xml(reports: &[ScenarioReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = reports
        .iter()
        .map(|r| r.steps.len() + usize::from(r.setup_error.is_some()))
        .sum();
    let failures: usize = reports.iter().map(ScenarioReport::failures).sum();
    let errors: usize = reports.iter().map(ScenarioReport::errors).sum();
    let time: f64 = reports.iter().map(|r| r.duration.as_secs_f64()).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"adsim scenarios\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">"
    );
    for r in reports {
        let skipped = r.steps.iter().filter(|s| s.status == StepStatus::Skipped).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\" time=\"{:.3}\" file=\"{}\">",
            xml_escape(&r.name),
            r.steps.len() + usize::from(r.setup_error.is_some()),
            r.failures(),
            r.errors(),
            r.duration.as_secs_f64(),
            xml_escape(&r.path)
        );
        if let Some(e) = &r.setup_error {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"setup\" time=\"0\">\n      <error message=\"{}\"/>\n    </testcase>",
                xml_escape(&r.name),
                xml_escape(e)
            );
        }
        for s in &r.steps {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&r.name),
                xml_escape(&format!("{:02} {}", s.index, s.title)),
                s.duration.as_secs_f64()
            );
            match &s.status {
                StepStatus::Passed => out.push_str("/>\n"),
                StepStatus::Skipped => out.push_str(">\n      <skipped/>\n    </testcase>\n"),
                StepStatus::Error(e) => {
                    let _ = write!(
                        out,
                        ">\n      <error message=\"{}\">{}</error>\n    </testcase>\n",
                        xml_escape(e),
                        xml_escape(&s.summary)
                    );
                }
                StepStatus::Failed(ms) => {
                    let message = ms.iter().map(|m| m.what.as_str()).collect::<Vec<_>>().join("; ");
                    let mut body = format!("{}\n", s.summary);
                    for m in ms {
                        body.push_str(&format!(
                            "{}\n  expected: {}\n  actual:   {}\n",
                            m.what, m.expected, m.actual
                        ));
                    }
                    for o in &s.observed {
                        body.push_str(&format!("observed: {o}\n"));
                    }
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>\n",
                        xml_escape(&message),
                        xml_escape(&body)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ScenarioReport {
        let step = |index, status| StepReport {
            index,
            title: "read <pw> & \"check\"".into(),
            summary: "read".into(),
            observed: vec!["result 1".into()],
            status,
            duration: Duration::from_millis(3),
        };
        ScenarioReport {
            name: "s".into(),
            path: "s.toml".into(),
            setup_error: None,
            steps: vec![
                step(1, StepStatus::Passed),
                step(
                    2,
                    StepStatus::Failed(vec![Mismatch {
                        what: "result".into(),
                        expected: "0 (success)".into(),
                        actual: "1 (operationsError)".into(),
                    }]),
                ),
                step(3, StepStatus::Error("no such variable\u{1}".into())),
            ],
            duration: Duration::from_millis(10),
        }
    }

    #[test]
    fn text_report_shows_expected_and_actual() {
        let t = report().to_text();
        assert!(t.starts_with("FAIL s"), "{t}");
        assert!(
            t.contains("expected: 0 (success)") && t.contains("actual:   1 (operationsError)"),
            "{t}"
        );
        assert!(t.contains("error: no such variable"), "{t}");
    }

    #[test]
    fn junit_counts_and_escapes() {
        let x = junit_xml(&[report()]);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
        assert!(x.contains("read &lt;pw&gt; &amp; &quot;check&quot;"), "{x}");
        assert!(!x.contains('\u{1}'), "{x}");
        assert_eq!(summary_line(&[report()]), "0 passed, 1 failed");
    }
}
