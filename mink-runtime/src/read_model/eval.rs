//! The meaning of a query, written once in Rust: the in-memory store runs
//! it, and the SQL stores are tested against it.

use std::cmp::Ordering;

use serde_json::Value;

use super::query::{CompareOp, Direction, Predicate};
use super::schema::{ColumnKind, ModelSchema, Row};

/// Whether `row` matches `predicate`.
pub fn matches(schema: &ModelSchema, predicate: &Predicate, row: &Row) -> bool {
    let kind = |column: usize| schema.columns[column].kind;
    match predicate {
        Predicate::All => true,
        Predicate::None => false,
        Predicate::Compare { column, op, value } => {
            let stored = &row[*column];
            if stored.is_null() {
                return *op == CompareOp::Ne;
            }
            let ord = compare_values(kind(*column), stored, value);
            match op {
                CompareOp::Eq => ord == Some(Ordering::Equal),
                CompareOp::Ne => ord != Some(Ordering::Equal),
                CompareOp::Gt => ord == Some(Ordering::Greater),
                CompareOp::Gte => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CompareOp::Lt => ord == Some(Ordering::Less),
                CompareOp::Lte => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            }
        }
        Predicate::Between { column, low, high } => {
            let stored = &row[*column];
            !stored.is_null()
                && matches!(
                    compare_values(kind(*column), stored, low),
                    Some(Ordering::Greater | Ordering::Equal)
                )
                && matches!(
                    compare_values(kind(*column), stored, high),
                    Some(Ordering::Less | Ordering::Equal)
                )
        }
        Predicate::In {
            column,
            values,
            negated,
        } => {
            let stored = &row[*column];
            if stored.is_null() {
                return *negated;
            }
            let found = values
                .iter()
                .any(|v| compare_values(kind(*column), stored, v) == Some(Ordering::Equal));
            found != *negated
        }
        Predicate::Contains { column, value } => match (&row[*column], kind(*column)) {
            (Value::String(text), ColumnKind::Text) => {
                value.as_str().is_some_and(|needle| text.contains(needle))
            }
            (Value::Array(items), _) => items.contains(value),
            _ => false,
        },
        Predicate::Like { column, pattern } => row[*column]
            .as_str()
            .is_some_and(|text| like(text, pattern)),
        Predicate::IsNull { column, negated } => row[*column].is_null() != *negated,
        Predicate::And(all) => all.iter().all(|p| matches(schema, p, row)),
        Predicate::Or(any) => any.iter().any(|p| matches(schema, p, row)),
    }
}

/// Two non-null values of one column, compared as the column's kind.
pub fn compare_values(kind: ColumnKind, a: &Value, b: &Value) -> Option<Ordering> {
    match kind {
        ColumnKind::Text | ColumnKind::Timestamp => Some(a.as_str()?.cmp(b.as_str()?)),
        ColumnKind::Integer => Some(a.as_i64()?.cmp(&b.as_i64()?)),
        ColumnKind::Real => a.as_f64()?.partial_cmp(&b.as_f64()?),
        ColumnKind::Bool => Some(a.as_bool()?.cmp(&b.as_bool()?)),
        ColumnKind::Json => (a == b).then_some(Ordering::Equal),
    }
}

/// Orders two rows by `order`: missing values first when ascending.
pub fn compare_rows(
    schema: &ModelSchema,
    order: &[(usize, Direction)],
    a: &Row,
    b: &Row,
) -> Ordering {
    for (column, direction) in order {
        let (x, y) = (&a[*column], &b[*column]);
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => {
                compare_values(schema.columns[*column].kind, x, y).unwrap_or(Ordering::Equal)
            }
        };
        let ord = match direction {
            Direction::Asc => ord,
            Direction::Desc => ord.reverse(),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// SQL's `LIKE`, case-sensitive, with `\` as the escape.
pub fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            c => Tok::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Classic wildcard matching with one backtrack point.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| matches!(t, Tok::Any))
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_patterns() {
        let cases = [
            ("abc", "abc", true),
            ("abc", "a%", true),
            ("abc", "%c", true),
            ("abc", "%b%", true),
            ("abc", "a_c", true),
            ("abc", "a_", false),
            ("ABC", "abc", false),
            ("a%c", "a\\%c", true),
            ("abc", "a\\%c", false),
            ("", "%", true),
            ("", "_", false),
            ("aaa", "%a%a%a%", true),
            ("aa", "%a%a%a%", false),
            ("héllo", "h_llo", true),
        ];
        for (text, pattern, want) in cases {
            assert_eq!(like(text, pattern), want, "{text:?} LIKE {pattern:?}");
        }
    }
}
