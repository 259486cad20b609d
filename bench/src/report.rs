//! The results: tables with ratios, the goals, and the JSON file.

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
    /// `--soak`: W1 at 16 writers, window by window, with resident memory.
    pub soak: Vec<crate::soak::Sample>,
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
        for (w, c) in self.cases(&["W1", "W2", "W3"]) {
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
        self.catch_up(&mut out);
        self.schema_costs(&mut out);
        self.soak_table(&mut out);
        out.push_str(&self.read_side.markdown());
        let _ = writeln!(out, "\n### Targets\n");
        for line in self.targets() {
            let _ = writeln!(out, "- {line}");
        }
        out
    }

    /// W5 with both baselines: pgbench (text results) and sqlx (binary).
    fn catch_up(&self, out: &mut String) {
        let cases = self.cases(&["W5"]);
        if cases.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n### W5: reading the log (events/s; medians)\n");
        let _ = writeln!(
            out,
            "| case | mink/postgres | p50 ms per page | raw pgbench SELECT | raw sqlx, binary | mink ÷ sqlx |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|");
        for (w, c) in cases {
            let mink = self.find(&w, &c, MINK_PG);
            let pages = c.replace("subscription, ", "");
            let lean = self.find(&w, &pages, crate::catchup::RAW_SQLX);
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {} | {} | {} |",
                eps(mink),
                ms(mink.map(|f| f.p50_us)),
                eps(self.find(&w, &pages, raw::SYSTEM)),
                eps(lean),
                ratio(
                    mink.map(|f| f.events_per_sec),
                    lean.map(|f| f.events_per_sec)
                ),
            );
        }
    }

    /// W1 against the minimal table, and the index costs.
    fn schema_costs(&self, out: &mut String) {
        let minimal: Vec<_> = self
            .figures
            .iter()
            .filter(|f| f.workload == "W1" && f.system == raw::MINIMAL)
            .collect();
        if !minimal.is_empty() {
            let _ = writeln!(
                out,
                "\n### W1 against the minimal table (events/s; medians)\n"
            );
            let _ = writeln!(
                out,
                "| case | mink/postgres | raw, store's table | raw, minimal table | store's table ÷ minimal | mink ÷ minimal |"
            );
            let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|");
            for m in minimal {
                let eps = |s: &str| self.find("W1", &m.case, s).map(|f| f.events_per_sec);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    m.case,
                    eps_text(eps(MINK_PG)),
                    eps_text(eps(raw::SYSTEM)),
                    eps_text(Some(m.events_per_sec)),
                    ratio(eps(raw::SYSTEM), Some(m.events_per_sec)),
                    ratio(eps(MINK_PG), Some(m.events_per_sec)),
                );
            }
        }
        let indexes: Vec<_> = self
            .figures
            .iter()
            .filter(|f| f.workload == "indexes")
            .collect();
        if let Some(all) = indexes.first() {
            let _ = writeln!(
                out,
                "\n### Index costs: single-row INSERTs at 16 connections (medians)\n"
            );
            let _ = writeln!(
                out,
                "| table | inserts/s | p50 ms | p99 ms | ÷ all four indexes |"
            );
            let _ = writeln!(out, "|---|--:|--:|--:|--:|");
            for f in &indexes {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    f.case,
                    eps(Some(f)),
                    ms(Some(f.p50_us)),
                    ms(Some(f.p99_us)),
                    ratio(Some(f.events_per_sec), Some(all.events_per_sec)),
                );
            }
        }
    }

    /// The soak's windows, with resident memory.
    fn soak_table(&self, out: &mut String) {
        if self.soak.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### Soak: W1 at {} writers, window by window\n",
            crate::soak::WRITERS
        );
        let _ = writeln!(out, "| store | minute | events/s | p99 ms | RSS MB |");
        let _ = writeln!(out, "|---|--:|--:|--:|--:|");
        for s in &self.soak {
            let _ = writeln!(
                out,
                "| {} | {:.1} | {} | {} | {:.1} |",
                s.system,
                s.minute,
                eps_text(Some(s.events_per_sec)),
                ms(Some(s.p99_us)),
                s.rss_kb as f64 / 1024.0
            );
        }
        let mut systems: Vec<&str> = self.soak.iter().map(|s| s.system.as_str()).collect();
        systems.dedup();
        for system in systems {
            let rss: Vec<u64> = self
                .soak
                .iter()
                .filter(|s| s.system == system)
                .map(|s| s.rss_kb)
                .collect();
            if let (Some(first), Some(last), Some(max)) =
                (rss.first(), rss.last(), rss.iter().max())
            {
                let _ = writeln!(
                    out,
                    "\n{system}: resident memory {:.1} MB after the first window, {:.1} MB after the last, at most {:.1} MB.",
                    *first as f64 / 1024.0,
                    *last as f64 / 1024.0,
                    *max as f64 / 1024.0
                );
            }
        }
    }

    /// The goals of the performance issue, each met or missed with the
    /// figures of this run.
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
        let w1c = format!("{w1}, no coalescing");
        check(
            "W1 16 writers, mink ÷ raw".into(),
            div(eps("W1", &w1, MINK_PG), eps("W1", &w1, raw::SYSTEM)),
            0.8,
            true,
            "x",
        );
        check(
            "W1 16 writers (coalesced, the default), mink ÷ raw: the moonshot".into(),
            div(eps("W1", &w1, MINK_PG), eps("W1", &w1, raw::SYSTEM)),
            1.0,
            true,
            "x",
        );
        check(
            "W1 16 writers without coalescing, mink ÷ raw".into(),
            div(eps("W1", &w1c, MINK_PG), eps("W1", &w1, raw::SYSTEM)),
            0.8,
            true,
            "x",
        );
        let c = crate::shape::batch_case(100, 8);
        check(
            format!("W2 {c}, mink ÷ raw"),
            div(eps("W2", &c, MINK_PG), eps("W2", &c, raw::SYSTEM)),
            0.8,
            true,
            "x",
        );
        let hot = self
            .figures
            .iter()
            .filter(|f| f.workload == "W3" && f.system == MINK_PG)
            .max_by(|a, b| a.events_per_sec.total_cmp(&b.events_per_sec));
        check(
            format!(
                "W3 best case ({}), successful commands/s",
                hot.map_or("–", |f| f.case.as_str())
            ),
            hot.map(|f| f.events_per_sec),
            730.0,
            true,
            "",
        );
        check(
            "W3 best case, p99".into(),
            hot.map(|f| f.p99_us / 1000.0),
            100.0,
            false,
            " ms",
        );
        let l = crate::shape::load_case(1_000);
        let p50 = |s: &str| self.find("W4", &l, s).map(|f| f.p50_us);
        check(
            "W4 1,000 events, mink time ÷ raw SELECT time".into(),
            div(p50(MINK_PG), p50(raw::SYSTEM)),
            1.3,
            false,
            "x",
        );
        check(
            "W4 1,000 events in memory, events folded/s".into(),
            p50(MEMORY).map(|us| 1_000.0 / (us / 1e6)),
            10_000_000.0,
            true,
            "",
        );
        check(
            "W5 catch-up read, events/s".into(),
            self.figures
                .iter()
                .filter(|f| f.workload == "W5" && f.system == MINK_PG)
                .map(|f| f.events_per_sec)
                .max_by(f64::total_cmp),
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
        check(
            "in-memory batches of 100, 1 writer, events/s".into(),
            eps("W2", &crate::shape::batch_case(100, 1), MEMORY),
            6_000_000.0,
            true,
            "",
        );
        for writers in crate::shape::SINGLE_WRITERS {
            let c = crate::shape::single_case(writers);
            check(
                format!("W1 {c}, mink ÷ postgres-es"),
                div(eps("W1", &c, MINK_PG), eps("W1", &c, PEER)),
                1.5,
                true,
                "x",
            );
        }
        for writers in crate::shape::BATCH_WRITERS {
            let c = crate::shape::batch_case(10, writers);
            check(
                format!("W2 {c}, mink ÷ postgres-es"),
                div(eps("W2", &c, MINK_PG), eps("W2", &c, PEER)),
                3.0,
                true,
                "x",
            );
        }
        lines.extend(self.read_side.targets());
        lines
    }
}

fn eps(f: Option<&Figure>) -> String {
    eps_text(f.map(|f| f.events_per_sec))
}

/// A rate with thousands separators, or a dash.
fn eps_text(rate: Option<f64>) -> String {
    match rate {
        None => "–".to_owned(),
        Some(rate) => {
            let n = rate.round() as u64;
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
