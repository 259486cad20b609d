//! Comparing what a test expected with what happened: a short list of the
//! differences (by position, type and field), then a coloured line diff of
//! both sides.

use std::fmt::Write as _;

use serde_json::Value;
use similar_asserts::SimpleDiff;

/// One item of a compared sequence: its kind (an event's type name, a
/// row's id), the version of its shape, and its content as JSON.
///
/// Events, rows, and later the commands a saga sends, are all compared as
/// lists of these.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    /// What it is: an event type, a row id.
    pub kind: String,
    /// The schema version, when it has one.
    pub version: Option<u32>,
    /// The content.
    pub data: Value,
}

impl Item {
    /// The item as the diff shows it: a head line, then its JSON indented.
    fn render(&self, at: usize, out: &mut String) {
        let _ = write!(out, "#{at} {}", self.kind);
        if let Some(v) = self.version {
            let _ = write!(out, " (v{v})");
        }
        out.push('\n');
        let json = serde_json::to_string_pretty(&self.data).unwrap_or_else(|_| "?".into());
        for line in json.lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// Renders a whole sequence, one item after another.
fn render_all(items: &[Item]) -> String {
    let mut out = String::new();
    if items.is_empty() {
        out.push_str("(nothing)\n");
    }
    for (at, item) in items.iter().enumerate() {
        item.render(at, &mut out);
    }
    out
}

/// `None` when both sequences are equal; otherwise the failure message:
/// what differs, item by item and field by field, then the coloured diff.
/// `noun` names the items (`event`, `row`).
pub(crate) fn compare(noun: &str, expected: &[Item], actual: &[Item]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut summary = Vec::new();
    if expected.len() != actual.len() {
        summary.push(format!(
            "expected {} {noun}(s), got {}",
            expected.len(),
            actual.len()
        ));
    }
    for at in 0..expected.len().max(actual.len()) {
        match (expected.get(at), actual.get(at)) {
            (Some(e), Some(a)) if e.kind != a.kind => summary.push(format!(
                "{noun} #{at}: expected `{}`, got `{}`",
                e.kind, a.kind
            )),
            (Some(e), Some(a)) if e.version != a.version => summary.push(format!(
                "{noun} #{at} `{}`: expected schema version {}, got {}",
                e.kind,
                e.version.unwrap_or_default(),
                a.version.unwrap_or_default()
            )),
            (Some(e), Some(a)) => {
                let mut fields = Vec::new();
                field_differences("", &e.data, &a.data, &mut fields);
                for f in fields {
                    summary.push(format!("{noun} #{at} `{}`: {f}", e.kind));
                }
            }
            (Some(e), None) => summary.push(format!("{noun} #{at}: missing `{}`", e.kind)),
            (None, Some(a)) => summary.push(format!("{noun} #{at}: unexpected `{}`", a.kind)),
            (None, None) => {}
        }
    }
    Some(report(&summary, &render_all(expected), &render_all(actual)))
}

/// The failure message: the differences, then both sides as a diff.
pub(crate) fn report(summary: &[String], expected: &str, actual: &str) -> String {
    let mut out = String::new();
    for line in summary {
        let _ = writeln!(out, "  - {line}");
    }
    let diff = SimpleDiff::from_str(expected, actual, "expected", "actual");
    let _ = write!(out, "\n{diff}");
    out
}

/// Collects `path: expected X, got Y` for every leaf that differs.
pub(crate) fn field_differences(
    path: &str,
    expected: &Value,
    actual: &Value,
    out: &mut Vec<String>,
) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let sub = join(path, key);
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => field_differences(&sub, ev, av, out),
                    (Some(ev), None) => {
                        out.push(format!("field `{sub}`: expected {}, missing", compact(ev)))
                    }
                    (None, Some(av)) => {
                        out.push(format!("field `{sub}`: not expected, got {}", compact(av)))
                    }
                    (None, None) => {}
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                field_differences(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        _ if expected != actual => {
            let what = if path.is_empty() {
                "value".to_owned()
            } else {
                format!("field `{path}`")
            };
            out.push(format!(
                "{what}: expected {}, got {}",
                compact(expected),
                compact(actual)
            ));
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(kind: &str, data: Value) -> Item {
        Item {
            kind: kind.into(),
            version: Some(1),
            data,
        }
    }

    #[test]
    fn equal_sequences_pass() {
        let a = [item("A", json!({"x": 1}))];
        assert_eq!(compare("event", &a, &a), None);
    }

    #[test]
    fn differences_name_the_position_the_type_and_the_field() {
        let expected = [
            item("Added", json!({"sku": "book", "qty": 2})),
            item("Shipped", json!({})),
        ];
        let actual = [
            item("Added", json!({"sku": "book", "qty": 3})),
            item("Removed", json!({})),
            item("Shipped", json!({})),
        ];
        let message = compare("event", &expected, &actual).expect("they differ");
        assert!(message.contains("expected 2 event(s), got 3"), "{message}");
        assert!(
            message.contains("event #0 `Added`: field `qty`: expected 2, got 3"),
            "{message}"
        );
        assert!(
            message.contains("event #1: expected `Shipped`, got `Removed`"),
            "{message}"
        );
        assert!(
            message.contains("event #2: unexpected `Shipped`"),
            "{message}"
        );
    }

    #[test]
    fn nested_fields_and_missing_keys_have_paths() {
        let mut out = Vec::new();
        field_differences(
            "",
            &json!({"lines": [{"sku": "a"}], "total": 1}),
            &json!({"lines": [{"sku": "b"}]}),
            &mut out,
        );
        assert_eq!(
            out,
            [
                "field `lines[0].sku`: expected \"a\", got \"b\"",
                "field `total`: expected 1, missing"
            ]
        );
    }
}
