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

/// A step of a differential run, next to the peer DC's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerVerdict {
    /// Both answered alike (result code, Windows error code, entries, attributes compared,
    /// password shape, Kerberos answer, expectations met).
    Same,
    /// The differences, adsim's answer as `expected`, the peer's as `actual`.
    Different(Vec<Mismatch>),
    /// Not sent to the peer, and why.
    AdsimOnly(String),
}

/// The peer's side of a step.
#[derive(Debug, Clone)]
pub struct PeerStep {
    pub verdict: PeerVerdict,
    /// What the peer answered (no secrets), to read next to `StepReport::observed`.
    pub observed: Vec<String>,
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
    /// In a differential run: the peer's answer and the verdict.
    pub peer: Option<PeerStep>,
    /// The step is marked `must_match_peer`: a difference from the peer is a failure.
    pub must_match_peer: bool,
}

impl StepReport {
    /// A difference from the peer that fails the step (`must_match_peer`).
    pub fn peer_failure(&self) -> Option<&[Mismatch]> {
        match &self.peer {
            Some(PeerStep {
                verdict: PeerVerdict::Different(d),
                ..
            }) if self.must_match_peer => Some(d),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    pub path: String,
    /// Set-up failure (the forest could not be started or populated).
    pub setup_error: Option<String>,
    pub steps: Vec<StepReport>,
    pub duration: Duration,
    /// In a differential run: the peer (`Samba 4.22 at ldap://…`) and what happened around
    /// the steps (set-up refused, clean-up problems).
    pub peer: Option<String>,
    pub peer_notes: Vec<String>,
}

impl ScenarioReport {
    pub fn failures(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Failed(_)) || s.peer_failure().is_some())
            .count()
    }

    /// Steps the same on both sides, different, adsim only (a differential run).
    pub fn peer_counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for s in &self.steps {
            match s.peer.as_ref().map(|p| &p.verdict) {
                Some(PeerVerdict::Same) => n.0 += 1,
                Some(PeerVerdict::Different(_)) => n.1 += 1,
                Some(PeerVerdict::AdsimOnly(_)) => n.2 += 1,
                None => {}
            }
        }
        n
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
        if let Some(peer) = &self.peer {
            let (same, different, only) = self.peer_counts();
            let _ = writeln!(
                out,
                "  peer {peer}: {same} same, {different} different, {only} adsim only"
            );
        }
        for n in &self.peer_notes {
            let _ = writeln!(out, "  peer: {n}");
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
            if let Some(p) = &s.peer {
                let must = if s.must_match_peer { " (must match)" } else { "" };
                match &p.verdict {
                    PeerVerdict::Same => {
                        let _ = writeln!(out, "           peer: same{must}");
                    }
                    PeerVerdict::AdsimOnly(why) => {
                        let _ = writeln!(out, "           peer: adsim only: {why}");
                    }
                    PeerVerdict::Different(ds) => {
                        let mark = if s.must_match_peer {
                            "DIFFERENT"
                        } else {
                            "different"
                        };
                        let _ = writeln!(out, "           peer: {mark}{must}");
                        for d in ds {
                            let _ = writeln!(
                                out,
                                "             {}: adsim {} | peer {}",
                                d.what, d.expected, d.actual
                            );
                        }
                        if !matches!(s.status, StepStatus::Failed(_)) {
                            for o in &s.observed {
                                let _ = writeln!(out, "             adsim observed: {o}");
                            }
                        }
                        for o in &p.observed {
                            let _ = writeln!(out, "             peer observed:  {o}");
                        }
                    }
                }
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
        let skipped = r
            .steps
            .iter()
            .filter(|s| {
                s.status == StepStatus::Skipped
                    || (s.status == StepStatus::Passed
                        && matches!(
                            s.peer.as_ref().map(|p| &p.verdict),
                            Some(PeerVerdict::AdsimOnly(_))
                        ))
            })
            .count();
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
            let peer_only = match &s.peer {
                Some(PeerStep {
                    verdict: PeerVerdict::AdsimOnly(why),
                    ..
                }) if s.status == StepStatus::Passed => Some(why),
                _ => None,
            };
            if let Some(why) = peer_only {
                let _ = write!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(&format!("adsim only: {why}"))
                );
                continue;
            }
            if let (StepStatus::Passed, Some(ds)) = (&s.status, s.peer_failure()) {
                let message = ds.iter().map(|m| m.what.as_str()).collect::<Vec<_>>().join("; ");
                let mut body = format!("{}\ndifferent from the peer (must_match_peer):\n", s.summary);
                for m in ds {
                    body.push_str(&format!(
                        "{}\n  adsim: {}\n  peer:  {}\n",
                        m.what, m.expected, m.actual
                    ));
                }
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"peer\">{}</failure>\n    </testcase>\n",
                    xml_escape(&format!("different from the peer: {message}")),
                    xml_escape(&body)
                );
                continue;
            }
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
            peer: None,
            must_match_peer: false,
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
            peer: None,
            peer_notes: Vec::new(),
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

    #[test]
    fn junit_peer_differences_fail_only_when_they_must_match() {
        let mut r = report();
        r.steps.truncate(1);
        r.peer = Some("Samba at ldap://127.0.0.41".into());
        let diff = PeerVerdict::Different(vec![Mismatch {
            what: "Windows error code".into(),
            expected: "00000523".into(),
            actual: "none".into(),
        }]);
        let mut second = r.steps[0].clone();
        second.index = 2;
        second.peer = Some(PeerStep {
            verdict: diff.clone(),
            observed: vec!["19 (constraintViolation)".into()],
        });
        let mut third = second.clone();
        third.index = 3;
        third.must_match_peer = true;
        let mut fourth = r.steps[0].clone();
        fourth.index = 4;
        fourth.peer = Some(PeerStep {
            verdict: PeerVerdict::AdsimOnly("moves adsim's simulated clock".into()),
            observed: vec![],
        });
        r.steps[0].peer = Some(PeerStep {
            verdict: PeerVerdict::Same,
            observed: vec![],
        });
        r.steps.extend([second, third, fourth]);
        assert_eq!(r.peer_counts(), (1, 2, 1));
        assert_eq!(r.failures(), 1, "only the must_match_peer difference fails");
        let x = junit_xml(&[r.clone()]);
        assert!(x.contains("failures=\"1\" errors=\"0\" skipped=\"1\""), "{x}");
        assert!(
            x.contains("<skipped message=\"adsim only: moves adsim&apos;s simulated clock\"/>"),
            "{x}"
        );
        assert_eq!(x.matches("type=\"peer\"").count(), 1, "{x}");
        let t = r.to_text();
        assert!(t.contains("1 same, 2 different, 1 adsim only"), "{t}");
        assert!(
            t.contains("Windows error code: adsim 00000523 | peer none"),
            "{t}"
        );
    }
}
