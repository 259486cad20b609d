//! Typed field handles and the marker traits that decide, at compile time,
//! which operators a field takes.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use super::query::{CompareOp, Condition, Direction, Filter, Order};

/// A handle on one field of the read model `M`, whose Rust type is `T`.
///
/// `#[derive(ReadModel)]` generates one per field, reached with
/// `M::fields()`. Its methods build a [`Filter`] or an [`Order`]; which of
/// them a field takes depends on `T`, so comparing a `String` field with a
/// number, or ordering by a map, does not compile.
pub struct Field<M, T> {
    index: usize,
    name: &'static str,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Field<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Field<M, T> {}

impl<M, T> fmt::Debug for Field<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field({})", self.name)
    }
}

/// A value that a field of type `T` can be compared with: a `T`, a `&str`
/// for text fields, and the inner value for `Option` fields.
#[diagnostic::on_unimplemented(
    message = "a `{T}` field cannot be compared with `{Self}`",
    label = "expected a value of the field's type, `{T}`",
    note = "field handles carry their field's Rust type: pass a `{T}` (a `&str` also works for a `String` field, and the inner value for an `Option` field)"
)]
pub trait Operand<T> {
    /// The value as JSON, before it is put in the column's normal form.
    fn into_json(self) -> Result<Value, String>;
}

impl<T: Serialize> Operand<T> for T {
    fn into_json(self) -> Result<Value, String> {
        serde_json::to_value(&self).map_err(|e| e.to_string())
    }
}

impl<T: Serialize> Operand<Option<T>> for T {
    fn into_json(self) -> Result<Value, String> {
        serde_json::to_value(&self).map_err(|e| e.to_string())
    }
}

impl Operand<String> for &str {
    fn into_json(self) -> Result<Value, String> {
        Ok(Value::String(self.to_owned()))
    }
}

impl Operand<String> for &String {
    fn into_json(self) -> Result<Value, String> {
        Ok(Value::String(self.clone()))
    }
}

impl Operand<Option<String>> for &str {
    fn into_json(self) -> Result<Value, String> {
        Ok(Value::String(self.to_owned()))
    }
}

/// A field whose values have an order: `gt`, `gte`, `lt`, `lte`,
/// `between`, `asc` and `desc` need it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no order, so this field cannot be compared with `gt`/`lt`/`between` or sorted by",
    label = "a field stored as JSON (maps, lists, nested structs) has no order",
    note = "order by a field holding a number, text, bool, timestamp or uuid (or an `Option` of one); compare this one with `eq`, `ne`, `in_` or `contains`"
)]
pub trait Ordered {}

macro_rules! ordered {
    ($($t:ty),*) => { $(impl Ordered for $t {})* };
}
ordered!(
    String,
    i8,
    i16,
    i32,
    i64,
    isize,
    u8,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    bool,
    uuid::Uuid,
    chrono::DateTime<chrono::Utc>
);
impl<T: Ordered> Ordered for Option<T> {}

/// A field that may hold nothing: `is_null` and `is_not_null` need it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `Option`, so this field is never null",
    label = "`is_null` and `is_not_null` need an `Option` field",
    note = "make the field an `Option<…>` if it can be missing, or drop the null check"
)]
pub trait Nullable {}

impl<T> Nullable for Option<T> {}

/// A text field: `like` needs it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not text, so `like` does not apply to this field",
    label = "`like` needs a `String` or `Option<String>` field",
    note = "compare numbers with `eq`, `gt`, `between` and the like"
)]
pub trait Text {}

impl Text for String {}
impl Text for Option<String> {}

/// A field `contains` applies to: text (a substring) or a list (an
/// element).
#[diagnostic::on_unimplemented(
    message = "`contains` does not apply to a `{Self}` field",
    label = "`contains` needs text (a substring) or a list (an element)",
    note = "use `eq` or `in_` for other fields"
)]
pub trait Containable {
    /// What is looked for: a substring of text, an element of a list.
    type Item;
}

impl Containable for String {
    type Item = String;
}
impl Containable for Option<String> {
    type Item = String;
}
impl<E> Containable for Vec<E> {
    type Item = E;
}
impl<E> Containable for Option<Vec<E>> {
    type Item = E;
}
impl<E> Containable for std::collections::BTreeSet<E> {
    type Item = E;
}
impl<E, S> Containable for std::collections::HashSet<E, S> {
    type Item = E;
}

/// A type that can be a read model's id: `String`, `uuid::Uuid` or an
/// integer.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a read model's id",
    label = "the `#[read_model(id)]` field is the table's primary key",
    note = "use a `String`, a `uuid::Uuid` or an integer for the id field"
)]
pub trait IdColumn {}

macro_rules! ids {
    ($($t:ty),*) => { $(impl IdColumn for $t {})* };
}
ids!(String, uuid::Uuid, i8, i16, i32, i64, u8, u16, u32, u64);

impl<M, T> Field<M, T> {
    /// A handle on column `index`, named `name`. Generated code makes them.
    #[doc(hidden)]
    pub const fn new(index: usize, name: &'static str) -> Self {
        Field {
            index,
            name,
            _marker: PhantomData,
        }
    }

    /// The field's (and column's) name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The column's place in the table.
    pub fn index(&self) -> usize {
        self.index
    }

    fn compare(self, op: CompareOp, value: impl Operand<T>) -> Filter<M> {
        Filter::new(Condition::Compare {
            column: self.index,
            op,
            value: value.into_json(),
        })
    }

    /// Equal to `value`. `eq(None)` on an `Option` field matches rows
    /// without a value.
    pub fn eq(self, value: impl Operand<T>) -> Filter<M> {
        self.compare(CompareOp::Eq, value)
    }

    /// Not equal to `value`; as in Rust, a row without a value is not equal
    /// to any value.
    pub fn ne(self, value: impl Operand<T>) -> Filter<M> {
        self.compare(CompareOp::Ne, value)
    }

    /// Greater than `value`; a row without a value never matches.
    pub fn gt(self, value: impl Operand<T>) -> Filter<M>
    where
        T: Ordered,
    {
        self.compare(CompareOp::Gt, value)
    }

    /// Greater than or equal to `value`; a row without a value never
    /// matches.
    pub fn gte(self, value: impl Operand<T>) -> Filter<M>
    where
        T: Ordered,
    {
        self.compare(CompareOp::Gte, value)
    }

    /// Less than `value`; a row without a value never matches.
    pub fn lt(self, value: impl Operand<T>) -> Filter<M>
    where
        T: Ordered,
    {
        self.compare(CompareOp::Lt, value)
    }

    /// Less than or equal to `value`; a row without a value never matches.
    pub fn lte(self, value: impl Operand<T>) -> Filter<M>
    where
        T: Ordered,
    {
        self.compare(CompareOp::Lte, value)
    }

    /// Between `low` and `high`, both included.
    pub fn between(self, low: impl Operand<T>, high: impl Operand<T>) -> Filter<M>
    where
        T: Ordered,
    {
        Filter::new(Condition::Between {
            column: self.index,
            low: low.into_json(),
            high: high.into_json(),
        })
    }

    /// Equal to one of `values`; none matches when `values` is empty.
    pub fn in_<I>(self, values: I) -> Filter<M>
    where
        I: IntoIterator,
        I::Item: Operand<T>,
    {
        Filter::new(Condition::In {
            column: self.index,
            values: values.into_iter().map(Operand::into_json).collect(),
            negated: false,
        })
    }

    /// Equal to none of `values`; a row without a value is in no list, so
    /// it matches.
    pub fn not_in<I>(self, values: I) -> Filter<M>
    where
        I: IntoIterator,
        I::Item: Operand<T>,
    {
        Filter::new(Condition::In {
            column: self.index,
            values: values.into_iter().map(Operand::into_json).collect(),
            negated: true,
        })
    }

    /// Text that contains `item` (case-sensitive), or a list that has
    /// `item` as an element.
    pub fn contains(self, item: impl Operand<T::Item>) -> Filter<M>
    where
        T: Containable,
    {
        Filter::new(Condition::Contains {
            column: self.index,
            value: item.into_json(),
        })
    }

    /// Text matching `pattern`, case-sensitive: `%` is any run of
    /// characters, `_` one character, `\` makes the next one literal.
    pub fn like(self, pattern: impl Into<String>) -> Filter<M>
    where
        T: Text,
    {
        Filter::new(Condition::Like {
            column: self.index,
            pattern: pattern.into(),
        })
    }

    /// Holds no value (`None`).
    pub fn is_null(self) -> Filter<M>
    where
        T: Nullable,
    {
        Filter::new(Condition::IsNull {
            column: self.index,
            negated: false,
        })
    }

    /// Holds a value (`Some`).
    pub fn is_not_null(self) -> Filter<M>
    where
        T: Nullable,
    {
        Filter::new(Condition::IsNull {
            column: self.index,
            negated: true,
        })
    }

    /// Ascending order: smallest first, rows without a value before all.
    pub fn asc(self) -> Order<M>
    where
        T: Ordered,
    {
        Order::new(self.index, Direction::Asc)
    }

    /// Descending order: largest first, rows without a value after all.
    pub fn desc(self) -> Order<M>
    where
        T: Ordered,
    {
        Order::new(self.index, Direction::Desc)
    }
}
