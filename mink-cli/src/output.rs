//! How commands print: JSON documents or NDJSON with `--json`, plain
//! tables otherwise; colours only on a terminal that has not asked for
//! none; progress bars on standard error, hidden when it is not a
//! terminal; confirmation prompts for destructive commands.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use comfy_table::{Cell, ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{CliError, CliResult};

/// A colour for a word of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Success.
    Good,
    /// Attention.
    Warn,
    /// Failure.
    Bad,
    /// Less important.
    Dim,
}

/// Where and how a command prints.
#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    color: bool,
    progress: bool,
}

impl Output {
    /// Output as the global options ask: `--json`, and colours unless
    /// `--no-color`, `NO_COLOR` or a standard output that is not a terminal.
    pub fn new(json: bool, no_color: bool) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            color: !no_color && !no_color_env && std::io::stdout().is_terminal(),
            progress: std::io::stderr().is_terminal(),
        }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints one JSON document, pretty.
    pub fn document(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
        println!("{text}");
    }

    /// Prints one NDJSON line.
    pub fn line(&self, value: &serde_json::Value) -> CliResult {
        let mut out = std::io::stdout().lock();
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        writeln!(out, "{text}").map_err(|e| CliError::io("writing to standard output", e))
    }

    /// Prints plain text.
    pub fn text(&self, text: impl std::fmt::Display) {
        println!("{text}");
    }

    /// `text` in `tone`, when colours are on.
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31",
            Tone::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A table with `header`, to be filled and printed with
    /// [`print_table`](Self::print_table).
    pub fn table(&self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table
            .load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header.iter().map(|h| Cell::new(h.to_uppercase())));
        table
    }

    /// Prints a table, or `empty` when it has no rows.
    pub fn print_table(&self, table: &Table, empty: &str) {
        if table.row_count() == 0 {
            println!("{empty}");
        } else {
            // comfy-table pads every line on the left; trim it for plain
            // columns that read like `ls -l`.
            for line in table.to_string().lines() {
                println!("{}", line.trim_start_matches(' ').trim_end());
            }
        }
    }

    /// A progress bar of `len` steps on standard error, hidden when it is
    /// not a terminal.
    pub fn progress(&self, len: Option<u64>, message: &str) -> ProgressBar {
        let bar = match len {
            Some(len) => ProgressBar::new(len),
            None => ProgressBar::new_spinner(),
        };
        if self.progress {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let template = if len.is_some() {
            "{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})"
        } else {
            "{spinner} {msg} {pos}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// Asks before a destructive step: passes at once with `-y/--yes`,
    /// refuses without a terminal to ask on, and otherwise waits for `y`.
    pub fn confirm(&self, what: &str, yes: bool) -> CliResult {
        if yes {
            return Ok(());
        }
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(CliError::new(format!(
                "{what} needs confirmation, and there is no terminal to ask on"
            ))
            .hint("pass -y/--yes to confirm it, or --dry-run to see what it would do"));
        }
        eprint!("{what}. Continue? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        stdin
            .lock()
            .read_line(&mut answer)
            .map_err(|e| CliError::io("reading the answer", e))?;
        if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(CliError::new("cancelled: nothing was changed"))
        }
    }
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A timestamp as RFC 3339 with seconds, UTC.
pub fn time(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
