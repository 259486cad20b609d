//! The peer, cqrs-es with postgres-es, run as a subprocess: it builds in a
//! workspace of its own (`bench/peer`) so that its dependency tree never
//! enters mink's.

use std::process::Stdio;

use crate::OrSay;
use crate::figure::Figure;
use crate::measure::Plan;

/// Runs the peer's `workload` (`w1`, `w2` or `w4`) and returns its figures.
/// The first call compiles the peer (release), which takes a few minutes.
pub async fn run(workload: &str, url: &str, plan: &Plan) -> Result<Vec<Figure>, String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/peer/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = tokio::process::Command::new(cargo)
        .args([
            "run",
            "--release",
            "--quiet",
            "--manifest-path",
            manifest,
            "--",
        ])
        .arg(workload)
        .arg("--json")
        .args(["--url", url])
        .args(["--runs", &plan.runs.to_string()])
        .args(["--warmup-ms", &plan.warmup.as_millis().to_string()])
        .args(["--window-ms", &plan.window.as_millis().to_string()])
        .stderr(Stdio::inherit())
        .output()
        .await
        .or_say("running the peer")?;
    if !out.status.success() {
        return Err(format!("the peer failed on {workload} ({})", out.status));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).or_say("reading the peer's output"))
        .collect()
}
