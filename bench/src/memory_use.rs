//! The bench process's own memory: resident set size now and at its peak,
//! read from `/proc/self/status` (Linux).

/// Resident memory of this process, in kB: now (`VmRSS`) and the most it
/// has held so far (`VmHWM`). `None` where `/proc` does not say.
pub fn resident_kb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `resident_kb` as text for the report: "RSS 41.2 MB, peak 97.0 MB".
pub fn describe() -> String {
    match resident_kb() {
        Some((now, peak)) => format!(
            "RSS {:.1} MB, peak {:.1} MB",
            now as f64 / 1024.0,
            peak as f64 / 1024.0
        ),
        None => "RSS not available on this system".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_plausible_resident_size() {
        let (now, peak) = super::resident_kb().expect("/proc/self/status is readable on Linux");
        assert!(now > 0, "a running process holds memory");
        assert!(
            peak >= now,
            "the peak {peak} kB is below the current {now} kB"
        );
    }
}
