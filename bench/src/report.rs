//! The results: tables with ratios, the targets of issue 5, and the JSON
//! file.

use std::fmt::Write as _;

use serde::Serialize;

use crate::figure::Figure;
use crate::raw;

/// The peer's system name.
pub const PEER: &str = "peer/postgres-es";
const MINK_PG: &str = "mink/postgres";
const MEMORY: &str = "mink/memory";
const SQLITE: &str = "mink/sqlite";

/// Everything one run measured, and the conditions it ran in.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Cores, memory, load, PostgreSQL settings.
    pub machine: Vec<(String, String)>,
    /// What the run noted on the way (seeding times, …).
    pub notes: Vec<String>,
    /// Every figure, in the order measured.
    pub figures: Vec<Figure>,
    /// W6 and W7: projection catch-up and live delivery.
    pub read_side: crate::projections::ReadSide,
}

impl Report {
    fn find(&self, workload: &str, case: &str, system: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.workload == workload && f.case == case && f.system == system)
    }

    /// The (workload, case) pairs of `workloads`, in the order measured.
    fn cases(&self, workloads: &[&str]) -> Vec<(String, String)> {
        let mut cases: Vec<(String, String)> = Vec::new();
        for f in &self.figures {
            let key = (f.workload.clone(), f.case.clone());
            if workloads.contains(&f.workload.as_str()) && !cases.contains(&key) {
                cases.push(key);
            }
        }
        cases
    }

    /// The report as Markdown: conditions, two tables and the targets.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### Conditions\n");
        for (k, v) in &self.machine {
            let _ = writeln!(out, "- {k}: {v}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        let _ = writeln!(out, "\n### Throughput (events/s; medians)\n");
        let _ = writeln!(
            out,
            "| workload | case | mink/postgres | p50 ms | p99 ms | raw/postgres | mink ÷ raw | postgres-es | mink ÷ peer | mink/memory | mink/sqlite |"
        );
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (w, c) in self.cases(&["W1", "W2", "W3", "W5"]) {
            let mink = self.find(&w, &c, MINK_PG);
            let raw = self.find(&w, &c, raw::SYSTEM);
            let peer = self.find(&w, &c, PEER);
            let mut case = c.clone();
            if let Some(rate) = mink.and_then(|m| m.conflict_rate) {
                let _ = write!(case, " (conflicts {:.1}%)", rate * 100.0);
            }
            let _ = writeln!(
                out,
                "| {w} | {case} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                eps(mink),
                ms(mink.map(|f| f.p50_us)),
                ms(mink.map(|f| f.p99_us)),
                eps(raw),
                ratio(
                    mink.map(|f| f.events_per_sec),
                    raw.map(|f| f.events_per_sec)
                ),
                eps(peer),
                ratio(
                    mink.map(|f| f.events_per_sec),
                    peer.map(|f| f.events_per_sec)
                ),
                eps(self.find(&w, &c, MEMORY)),
                eps(self.find(&w, &c, SQLITE)),
            );
        }
        let _ = writeln!(
            out,
            "\n### W4: loading an aggregate (p50 ms of one load; medians)\n"
        );
        let _ = writeln!(
            out,
            "| case | mink/postgres | raw SELECT | mink ÷ raw (time) | postgres-es | peer ÷ mink (time) | mink/memory | mink/sqlite |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|");
        for (w, c) in self.cases(&["W4"]) {
            let p50 = |s: &str| self.find(&w, &c, s).map(|f| f.p50_us);
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {} | {} | {} | {} | {} |",
                ms(p50(MINK_PG)),
                ms(p50(raw::SYSTEM)),
                ratio(p50(MINK_PG), p50(raw::SYSTEM)),
                ms(p50(PEER)),
                ratio(p50(PEER), p50(MINK_PG)),
                ms(p50(MEMORY)),
                ms(p50(SQLITE)),
            );
        }
        out.push_str(&self.read_side.markdown());
        let _ = writeln!(out, "\n### Targets\n");
        for line in self.targets() {
            let _ = writeln!(out, "- {line}");
        }
        out
    }

    /// The targets of issue 5, each met or missed with the figures.
    pub fn targets(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut check =
            |name: String, value: Option<f64>, goal: f64, at_least: bool, unit: &str| {
                let line = match value {
                    None => format!("{name}: not measured in this run"),
                    Some(v) => {
                        let met = if at_least { v >= goal } else { v < goal };
                        let verdict = if met {
                            "met".to_owned()
                        } else if at_least {
                            format!("MISSED by {:.1}%", (1.0 - v / goal) * 100.0)
                        } else {
                            format!("MISSED by {:.1}%", (v / goal - 1.0) * 100.0)
                        };
                        format!(
                            "{name}: {v:.2}{unit} (goal {} {goal}{unit}) — {verdict}",
                            if at_least { ">=" } else { "<" }
                        )
                    }
                };
                lines.push(line);
            };
        let eps = |w: &str, c: &str, s: &str| self.find(w, c, s).map(|f| f.events_per_sec);
        let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let w1 = crate::shape::single_case(16);
        check(
            "W1 16 writers, mink ÷ raw".into(),
            div(eps("W1", &w1, MINK_PG), eps("W1", &w1, raw::SYSTEM)),
            0.8,
            true,
            "x",
        );
        check(
            "W1 16 writers, mink p99".into(),
            self.find("W1", &w1, MINK_PG).map(|f| f.p99_us / 1000.0),
            5.0,
            false,
            " ms",
        );
        for writers in crate::shape::BATCH_WRITERS {
            let c = crate::shape::batch_case(100, writers);
            check(
                format!("W2 {c}, mink ÷ raw"),
                div(eps("W2", &c, MINK_PG), eps("W2", &c, raw::SYSTEM)),
                0.7,
                true,
                "x",
            );
        }
        let l = crate::shape::load_case(1_000);
        let p50 = |s: &str| self.find("W4", &l, s).map(|f| f.p50_us);
        check(
            "W4 1,000 events, mink time ÷ raw SELECT time".into(),
            div(p50(MINK_PG), p50(raw::SYSTEM)),
            2.0,
            false,
            "x",
        );
        check(
            "W5 catch-up read, events/s".into(),
            self.figures
                .iter()
                .find(|f| f.workload == "W5")
                .map(|f| f.events_per_sec),
            500_000.0,
            true,
            "",
        );
        check(
            "in-memory single appends, 1 writer, events/s".into(),
            eps("W1", &crate::shape::single_case(1), MEMORY),
            2_500_000.0,
            true,
            "",
        );
        for (w, c) in self.cases(&["W1", "W2"]) {
            let goal = if w == "W2" { 3.0 } else { 1.5 };
            check(
                format!("{w} {c}, mink ÷ postgres-es"),
                div(eps(&w, &c, MINK_PG), eps(&w, &c, PEER)),
                goal,
                true,
                "x",
            );
        }
        lines.extend(self.read_side.targets());
        lines
    }
}

fn eps(f: Option<&Figure>) -> String {
    match f {
        None => "–".to_owned(),
        Some(f) => {
            let n = f.events_per_sec.round() as u64;
            let digits = n.to_string();
            let mut out = String::new();
            for (i, ch) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(ch);
            }
            out
        }
    }
}

fn ms(us: Option<f64>) -> String {
    us.map_or("–".to_owned(), |us| format!("{:.3}", us / 1000.0))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "–".to_owned(),
    }
}
