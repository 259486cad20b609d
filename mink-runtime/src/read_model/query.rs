//! Queries built from field handles: filters, orders, pages, and their
//! normalized form that the stores run.

use std::marker::PhantomData;

use serde_json::Value;

use super::error::ReadModelError;
use super::schema::{ColumnKind, ModelSchema};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>` (a missing value counts as different)
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Smallest first; missing values first.
    Asc,
    /// Largest first; missing values last.
    Desc,
}

/// A condition as built, before its values are checked against the
/// columns. Operands that failed to serialize keep their error until the
/// query runs.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub enum Condition {
    /// Every row.
    All,
    /// `column op value`.
    Compare {
        column: usize,
        op: CompareOp,
        value: Result<Value, String>,
    },
    /// `column BETWEEN low AND high`.
    Between {
        column: usize,
        low: Result<Value, String>,
        high: Result<Value, String>,
    },
    /// `column [NOT] IN (values)`.
    In {
        column: usize,
        values: Vec<Result<Value, String>>,
        negated: bool,
    },
    /// A substring or an element.
    Contains {
        column: usize,
        value: Result<Value, String>,
    },
    /// `column LIKE pattern`.
    Like { column: usize, pattern: String },
    /// `column IS [NOT] NULL`.
    IsNull { column: usize, negated: bool },
    /// All of them.
    And(Vec<Condition>),
    /// Any of them.
    Or(Vec<Condition>),
}

/// A condition on the rows of the read model `M`, built from its field
/// handles and combined with [`and`](Self::and) and [`or`](Self::or) (or
/// `&` and `|`).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter<M> {
    condition: Condition,
    _model: PhantomData<fn() -> M>,
}

impl<M> Filter<M> {
    pub(super) fn new(condition: Condition) -> Self {
        Filter {
            condition,
            _model: PhantomData,
        }
    }

    /// Every row.
    pub fn all() -> Self {
        Filter::new(Condition::All)
    }

    /// Rows matching both.
    pub fn and(self, other: Filter<M>) -> Filter<M> {
        Filter::new(match (self.condition, other.condition) {
            (Condition::All, c) | (c, Condition::All) => c,
            (Condition::And(mut a), Condition::And(b)) => {
                a.extend(b);
                Condition::And(a)
            }
            (Condition::And(mut a), c) => {
                a.push(c);
                Condition::And(a)
            }
            (a, b) => Condition::And(vec![a, b]),
        })
    }

    /// Rows matching either.
    pub fn or(self, other: Filter<M>) -> Filter<M> {
        Filter::new(match (self.condition, other.condition) {
            (Condition::All, _) | (_, Condition::All) => Condition::All,
            (Condition::Or(mut a), Condition::Or(b)) => {
                a.extend(b);
                Condition::Or(a)
            }
            (Condition::Or(mut a), c) => {
                a.push(c);
                Condition::Or(a)
            }
            (a, b) => Condition::Or(vec![a, b]),
        })
    }

    /// The condition as built.
    #[doc(hidden)]
    pub fn condition(&self) -> &Condition {
        &self.condition
    }
}

impl<M> std::ops::BitAnd for Filter<M> {
    type Output = Filter<M>;
    fn bitand(self, rhs: Filter<M>) -> Filter<M> {
        self.and(rhs)
    }
}

impl<M> std::ops::BitOr for Filter<M> {
    type Output = Filter<M>;
    fn bitor(self, rhs: Filter<M>) -> Filter<M> {
        self.or(rhs)
    }
}

/// One sort key, from a field handle's `asc()` or `desc()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order<M> {
    column: usize,
    direction: Direction,
    _model: PhantomData<fn() -> M>,
}

impl<M> Order<M> {
    pub(super) fn new(column: usize, direction: Direction) -> Self {
        Order {
            column,
            direction,
            _model: PhantomData,
        }
    }
}

/// A query on the read model `M`: a filter, sort keys, and a window.
///
/// Rows come in the order of the sort keys, then of the id (in the last
/// key's direction), so pages never overlap or skip a row.
///
/// ```
/// # use mink_runtime::read_model::{Filter, Query};
/// # struct M;
/// let q: Query<M> = Query::new().filter(Filter::all()).page(2, 20);
/// assert_eq!((q.limit_value(), q.offset_value()), (Some(20), 20));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Query<M> {
    filter: Condition,
    order: Vec<(usize, Direction)>,
    limit: Option<u64>,
    offset: u64,
    invalid: Option<String>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Default for Query<M> {
    fn default() -> Self {
        Query {
            filter: Condition::All,
            order: Vec::new(),
            limit: None,
            offset: 0,
            invalid: None,
            _model: PhantomData,
        }
    }
}

impl<M> From<Filter<M>> for Query<M> {
    fn from(filter: Filter<M>) -> Self {
        Query::new().filter(filter)
    }
}

impl<M> Query<M> {
    /// Every row, in id order.
    pub fn new() -> Self {
        Query::default()
    }

    /// Keeps only rows matching `filter` (and any filter given before).
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        let current = Filter::<M>::new(std::mem::replace(&mut self.filter, Condition::All));
        self.filter = current.and(filter).condition;
        self
    }

    /// Sorts by `order`, after the sort keys given before.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.order.push((order.column, order.direction));
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }

    /// Page `number` (from 1) of `size` rows.
    pub fn page(mut self, number: u64, size: u64) -> Self {
        if number == 0 {
            self.invalid = Some("page numbers start at 1".to_owned());
        }
        self.limit = Some(size);
        self.offset = number.saturating_sub(1).saturating_mul(size);
        self
    }

    /// The row limit, if any.
    pub fn limit_value(&self) -> Option<u64> {
        self.limit
    }

    /// The rows skipped.
    pub fn offset_value(&self) -> u64 {
        self.offset
    }

    /// The query with its values in their columns' normal form, ready for
    /// a store.
    #[doc(hidden)]
    pub fn resolve(&self, schema: &ModelSchema) -> Result<Select, ReadModelError> {
        if let Some(reason) = &self.invalid {
            return Err(ReadModelError::InvalidQuery {
                table: schema.table,
                reason: reason.clone(),
            });
        }
        let mut order = self.order.clone();
        if !order.iter().any(|(c, _)| *c == schema.id) {
            let last = order.last().map_or(Direction::Asc, |(_, d)| *d);
            order.push((schema.id, last));
        }
        Ok(Select {
            predicate: Predicate::resolve(&self.filter, schema)?,
            order,
            limit: self.limit,
            offset: self.offset,
        })
    }

    /// The filter in its normal form.
    #[doc(hidden)]
    pub fn resolve_filter(&self, schema: &ModelSchema) -> Result<Predicate, ReadModelError> {
        Predicate::resolve(&self.filter, schema)
    }
}

/// A query in the form a store runs: every value normalized, the id as the
/// last sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// Which rows.
    pub predicate: Predicate,
    /// Sort keys (column, direction); the id column is always among them.
    pub order: Vec<(usize, Direction)>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Skipping this many.
    pub offset: u64,
}

/// A condition in the form a store runs: values are in their column's
/// normal form (see [`ModelSchema::encode_row`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// Every row.
    All,
    /// No row.
    None,
    /// `column op value`; `value` is never `null` (`eq(None)` and
    /// `ne(None)` become [`Predicate::IsNull`]).
    Compare {
        /// The column.
        column: usize,
        /// The operator.
        op: CompareOp,
        /// The value.
        value: Value,
    },
    /// `low <= column <= high`.
    Between {
        /// The column.
        column: usize,
        /// The lower bound.
        low: Value,
        /// The upper bound.
        high: Value,
    },
    /// `column IN (values)`, or `NOT IN` (where a missing value matches).
    /// `values` holds no `null` and is never empty.
    In {
        /// The column.
        column: usize,
        /// The values.
        values: Vec<Value>,
        /// `NOT IN`.
        negated: bool,
    },
    /// A substring of a text column, or an element of a JSON list (as
    /// JSON).
    Contains {
        /// The column.
        column: usize,
        /// The substring or element.
        value: Value,
    },
    /// `column LIKE pattern` (`%`, `_`, `\` escapes), case-sensitive; the
    /// pattern never ends in a lone `\`.
    Like {
        /// The column.
        column: usize,
        /// The pattern.
        pattern: String,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// The column.
        column: usize,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// All of them.
    And(Vec<Predicate>),
    /// Any of them.
    Or(Vec<Predicate>),
}

impl Predicate {
    /// The rows whose id is `id` (already normalized).
    pub fn id_is(schema: &ModelSchema, id: Value) -> Predicate {
        Predicate::Compare {
            column: schema.id,
            op: CompareOp::Eq,
            value: id,
        }
    }

    fn resolve(condition: &Condition, schema: &ModelSchema) -> Result<Predicate, ReadModelError> {
        let value = |column: usize, v: &Result<Value, String>| -> Result<Value, ReadModelError> {
            let col = &schema.columns[column];
            let v = v.clone().map_err(|reason| ReadModelError::Encode {
                table: schema.table,
                column: col.name.to_owned(),
                reason,
            })?;
            // A `None` operand is checked as a value of a nullable column.
            let mut nullable = col.clone();
            nullable.nullable = true;
            schema.normalize(&nullable, v)
        };
        Ok(match condition {
            Condition::All => Predicate::All,
            Condition::Compare {
                column,
                op,
                value: v,
            } => {
                let v = value(*column, v)?;
                match (op, v.is_null()) {
                    (CompareOp::Eq, true) => Predicate::IsNull {
                        column: *column,
                        negated: false,
                    },
                    (CompareOp::Ne, true) => Predicate::IsNull {
                        column: *column,
                        negated: true,
                    },
                    // Nothing is greater or less than a missing value.
                    (_, true) => Predicate::None,
                    (op, false) => Predicate::Compare {
                        column: *column,
                        op: *op,
                        value: v,
                    },
                }
            }
            Condition::Between { column, low, high } => {
                let (low, high) = (value(*column, low)?, value(*column, high)?);
                if low.is_null() || high.is_null() {
                    Predicate::None
                } else {
                    Predicate::Between {
                        column: *column,
                        low,
                        high,
                    }
                }
            }
            Condition::In {
                column,
                values,
                negated,
            } => {
                let mut with_null = false;
                let mut kept = Vec::with_capacity(values.len());
                for v in values {
                    let v = value(*column, v)?;
                    if v.is_null() {
                        with_null = true;
                    } else if !kept.contains(&v) {
                        kept.push(v);
                    }
                }
                let column = *column;
                let list = if kept.is_empty() {
                    if *negated {
                        Predicate::All
                    } else {
                        Predicate::None
                    }
                } else {
                    Predicate::In {
                        column,
                        values: kept,
                        negated: *negated,
                    }
                };
                match (with_null, negated) {
                    (false, _) => list,
                    (true, false) => Predicate::Or(vec![
                        list,
                        Predicate::IsNull {
                            column,
                            negated: false,
                        },
                    ]),
                    (true, true) => Predicate::And(vec![
                        list,
                        Predicate::IsNull {
                            column,
                            negated: true,
                        },
                    ]),
                }
            }
            Condition::Contains { column, value: v } => {
                let col = &schema.columns[*column];
                let v = v.clone().map_err(|reason| ReadModelError::Encode {
                    table: schema.table,
                    column: col.name.to_owned(),
                    reason,
                })?;
                if col.kind == ColumnKind::Text && !v.is_string() {
                    return Err(ReadModelError::InvalidQuery {
                        table: schema.table,
                        reason: format!("`contains` on text field `{}` needs text", col.name),
                    });
                }
                Predicate::Contains {
                    column: *column,
                    value: v,
                }
            }
            Condition::Like { column, pattern } => {
                if ends_in_lone_escape(pattern) {
                    return Err(ReadModelError::InvalidQuery {
                        table: schema.table,
                        reason: format!("the `like` pattern `{pattern}` ends in a lone `\\`"),
                    });
                }
                Predicate::Like {
                    column: *column,
                    pattern: pattern.clone(),
                }
            }
            Condition::IsNull { column, negated } => Predicate::IsNull {
                column: *column,
                negated: *negated,
            },
            Condition::And(all) => Predicate::And(
                all.iter()
                    .map(|c| Predicate::resolve(c, schema))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Or(any) => Predicate::Or(
                any.iter()
                    .map(|c| Predicate::resolve(c, schema))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

fn ends_in_lone_escape(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        escaped = !escaped && c == '\\';
    }
    escaped
}

/// One page of a query's rows, with the count of all matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<M> {
    /// The rows of the page.
    pub items: Vec<M>,
    /// How many rows match the query's filter, on every page.
    pub total: u64,
    /// Whether rows come after this page.
    pub has_more: bool,
}
