//! The SQL text of read-model queries, for PostgreSQL and SQLite.
//!
//! Identifiers come from the derive (checked to be plain ASCII names) and
//! are always quoted; every value becomes a bind parameter, so no value is
//! ever spliced into SQL text.

use std::fmt::Write as _;

use serde_json::Value;

use super::query::{CompareOp, Direction, Predicate, Select};
use super::schema::{ColumnDef, ColumnKind, IndexKind, ModelSchema};

/// The SQL flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `$n` placeholders, `jsonb`, `text COLLATE "C"`.
    Postgres,
    /// SQLite: `?n` placeholders, JSON as text, booleans as 0/1.
    Sqlite,
}

/// A value to bind, with how to bind it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Bound by the column's kind (never `null`).
    Value(ColumnKind, Value),
    /// Bound as text.
    Text(String),
    /// Bound as a 64-bit integer.
    Integer(i64),
}

/// SQL text and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Statement {
    /// The SQL.
    pub sql: String,
    /// The values of `$1`/`?1`, `$2`/`?2`, ….
    pub params: Vec<Param>,
}

/// Quotes an identifier (one already checked to hold no `"`).
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Builds statements for one table.
#[derive(Debug, Clone)]
pub struct Sql<'a> {
    dialect: Dialect,
    schema: &'a ModelSchema,
    /// The quoted, qualified table name.
    table: String,
}

impl<'a> Sql<'a> {
    /// Statements on `qualified_table` (already quoted) holding `schema`.
    pub fn new(dialect: Dialect, schema: &'a ModelSchema, qualified_table: String) -> Self {
        Sql {
            dialect,
            schema,
            table: qualified_table,
        }
    }

    fn column_list(&self) -> String {
        self.schema
            .columns
            .iter()
            .map(|c| quote(c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn placeholder(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// The SQL type of a column.
    pub fn column_type(&self, column: &ColumnDef) -> &'static str {
        match (self.dialect, column.kind) {
            (Dialect::Postgres, ColumnKind::Text) => "text COLLATE \"C\"",
            (Dialect::Postgres, ColumnKind::Integer) => "bigint",
            (Dialect::Postgres, ColumnKind::Real) => "double precision",
            (Dialect::Postgres, ColumnKind::Bool) => "boolean",
            (Dialect::Postgres, ColumnKind::Timestamp) => "timestamptz",
            (Dialect::Postgres, ColumnKind::Json) => "jsonb",
            (Dialect::Sqlite, ColumnKind::Text | ColumnKind::Timestamp | ColumnKind::Json) => {
                "TEXT"
            }
            (Dialect::Sqlite, ColumnKind::Integer | ColumnKind::Bool) => "INTEGER",
            (Dialect::Sqlite, ColumnKind::Real) => "REAL",
        }
    }

    /// A column's definition in `CREATE TABLE` or `ADD COLUMN`.
    pub fn column_definition(&self, column: &ColumnDef) -> String {
        let mut def = format!("{} {}", quote(column.name), self.column_type(column));
        if !column.nullable {
            def.push_str(" NOT NULL");
        }
        if column.index == IndexKind::PrimaryKey {
            def.push_str(" PRIMARY KEY");
        }
        def
    }

    /// `CREATE TABLE IF NOT EXISTS …`.
    pub fn create_table(&self) -> String {
        let columns = self
            .schema
            .columns
            .iter()
            .map(|c| self.column_definition(c))
            .collect::<Vec<_>>()
            .join(", ");
        let strict = match self.dialect {
            Dialect::Postgres => "",
            Dialect::Sqlite => " STRICT",
        };
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({columns}){strict}",
            self.table
        )
    }

    /// `ALTER TABLE … ADD COLUMN …`.
    pub fn add_column(&self, column: &ColumnDef) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN {}",
            self.table,
            self.column_definition(column)
        )
    }

    /// The `CREATE [UNIQUE] INDEX IF NOT EXISTS` statements, one per
    /// `index` or `unique` field. The index lives beside its table.
    pub fn create_indexes(&self) -> Vec<String> {
        let id = quote(self.schema.id_column().name);
        let mut out = Vec::new();
        for c in &self.schema.columns {
            let nulls = match (self.dialect, c.nullable) {
                (Dialect::Postgres, true) => " ASC NULLS FIRST",
                _ => "",
            };
            let (unique, suffix, keys) = match c.index {
                IndexKind::Index => ("", "idx", format!("{}{nulls}, {id}", quote(c.name))),
                IndexKind::Unique => ("UNIQUE ", "key", format!("{}{nulls}", quote(c.name))),
                IndexKind::None | IndexKind::PrimaryKey => continue,
            };
            let name = quote(&format!("{}_{}_{suffix}", self.schema.table, c.name));
            out.push(format!(
                "CREATE {unique}INDEX IF NOT EXISTS {name} ON {} ({keys})",
                self.table
            ));
        }
        out
    }

    /// `SELECT <columns> … WHERE … ORDER BY … LIMIT … OFFSET …`, with `FOR
    /// UPDATE` when `lock` (PostgreSQL).
    pub fn select(&self, select: &Select, lock: bool) -> Statement {
        let mut st = Statement::default();
        let where_ = self.predicate(&select.predicate, &mut st.params);
        let mut sql = format!(
            "SELECT {} FROM {} WHERE {where_}",
            self.column_list(),
            self.table
        );
        if !select.order.is_empty() {
            let keys = select
                .order
                .iter()
                .map(|(column, direction)| self.order_key(*column, *direction))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(sql, " ORDER BY {keys}");
        }
        match (select.limit, select.offset, self.dialect) {
            (None, 0, _) => {}
            (limit, offset, dialect) => {
                let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
                if limit >= 0 || dialect == Dialect::Sqlite {
                    st.params.push(Param::Integer(limit));
                    let _ = write!(sql, " LIMIT {}", self.placeholder(st.params.len()));
                }
                if offset > 0 {
                    st.params
                        .push(Param::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
                    let _ = write!(sql, " OFFSET {}", self.placeholder(st.params.len()));
                }
            }
        }
        if lock && self.dialect == Dialect::Postgres {
            sql.push_str(" FOR UPDATE");
        }
        st.sql = sql;
        st
    }

    fn order_key(&self, column: usize, direction: Direction) -> String {
        let c = &self.schema.columns[column];
        let dir = match direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        // Missing values sort as the smallest, as `None` does in Rust;
        // SQLite already does, PostgreSQL does the opposite by default.
        let nulls = match (self.dialect, c.nullable, direction) {
            (Dialect::Postgres, true, Direction::Asc) => " NULLS FIRST",
            (Dialect::Postgres, true, Direction::Desc) => " NULLS LAST",
            _ => "",
        };
        format!("{} {dir}{nulls}", quote(c.name))
    }

    /// `SELECT count(*) FROM … WHERE …`.
    pub fn count(&self, predicate: &Predicate) -> Statement {
        let mut st = Statement::default();
        let where_ = self.predicate(predicate, &mut st.params);
        st.sql = format!("SELECT count(*) FROM {} WHERE {where_}", self.table);
        st
    }

    /// `DELETE FROM … WHERE …`.
    pub fn delete(&self, predicate: &Predicate) -> Statement {
        let mut st = Statement::default();
        let where_ = self.predicate(predicate, &mut st.params);
        st.sql = format!("DELETE FROM {} WHERE {where_}", self.table);
        st
    }

    /// `INSERT INTO … VALUES (…)`, or an upsert on the id.
    pub fn insert(&self, upsert: bool) -> String {
        let values = (1..=self.schema.columns.len())
            .map(|n| self.placeholder(n))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ({values})",
            self.table,
            self.column_list()
        );
        if upsert {
            let id = quote(self.schema.id_column().name);
            let sets = self
                .schema
                .columns
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != self.schema.id)
                .map(|(_, c)| format!("{0} = excluded.{0}", quote(c.name)))
                .collect::<Vec<_>>();
            if sets.is_empty() {
                let _ = write!(sql, " ON CONFLICT ({id}) DO NOTHING");
            } else {
                let _ = write!(sql, " ON CONFLICT ({id}) DO UPDATE SET {}", sets.join(", "));
            }
        }
        sql
    }

    /// `UPDATE … SET <every column but the id> WHERE id = <last param>`.
    pub fn update(&self) -> String {
        let mut n = 0;
        let mut sets = Vec::new();
        for (i, c) in self.schema.columns.iter().enumerate() {
            if i == self.schema.id {
                continue;
            }
            n += 1;
            sets.push(format!("{} = {}", quote(c.name), self.placeholder(n)));
        }
        let id = quote(self.schema.id_column().name);
        if sets.is_empty() {
            sets.push(format!("{id} = {id}"));
        }
        format!(
            "UPDATE {} SET {} WHERE {id} = {}",
            self.table,
            sets.join(", "),
            self.placeholder(n + 1)
        )
    }

    fn bind(&self, params: &mut Vec<Param>, param: Param) -> String {
        params.push(param);
        self.placeholder(params.len())
    }

    /// The `WHERE` text of `predicate`, pushing its values.
    pub fn predicate(&self, predicate: &Predicate, params: &mut Vec<Param>) -> String {
        let col = |column: usize| &self.schema.columns[column];
        match predicate {
            Predicate::All => "TRUE".to_owned(),
            Predicate::None => "FALSE".to_owned(),
            Predicate::Compare { column, op, value } => {
                let c = col(*column);
                let name = quote(c.name);
                let p = self.bind(params, Param::Value(c.kind, value.clone()));
                match op {
                    CompareOp::Eq => format!("{name} = {p}"),
                    // As in Rust, a missing value differs from every value.
                    CompareOp::Ne => format!("({name} <> {p} OR {name} IS NULL)"),
                    CompareOp::Gt => format!("{name} > {p}"),
                    CompareOp::Gte => format!("{name} >= {p}"),
                    CompareOp::Lt => format!("{name} < {p}"),
                    CompareOp::Lte => format!("{name} <= {p}"),
                }
            }
            Predicate::Between { column, low, high } => {
                let c = col(*column);
                let lo = self.bind(params, Param::Value(c.kind, low.clone()));
                let hi = self.bind(params, Param::Value(c.kind, high.clone()));
                format!("{} BETWEEN {lo} AND {hi}", quote(c.name))
            }
            Predicate::In {
                column,
                values,
                negated,
            } => {
                let c = col(*column);
                let name = quote(c.name);
                let list = values
                    .iter()
                    .map(|v| self.bind(params, Param::Value(c.kind, v.clone())))
                    .collect::<Vec<_>>()
                    .join(", ");
                if *negated {
                    format!("({name} NOT IN ({list}) OR {name} IS NULL)")
                } else {
                    format!("{name} IN ({list})")
                }
            }
            Predicate::Contains { column, value } => {
                let c = col(*column);
                let name = quote(c.name);
                match (c.kind, self.dialect) {
                    (ColumnKind::Text, Dialect::Postgres) => {
                        let p = self.bind(params, Param::Value(ColumnKind::Text, value.clone()));
                        format!("strpos({name}, {p}) > 0")
                    }
                    (ColumnKind::Text, Dialect::Sqlite) => {
                        let p = self.bind(params, Param::Value(ColumnKind::Text, value.clone()));
                        format!("instr({name}, {p}) > 0")
                    }
                    (_, Dialect::Postgres) => {
                        let p = self.bind(params, Param::Value(ColumnKind::Json, value.clone()));
                        format!(
                            "(jsonb_typeof({name}) = 'array' AND EXISTS \
                             (SELECT 1 FROM jsonb_array_elements({name}) AS __e(v) WHERE __e.v = {p}))"
                        )
                    }
                    (_, Dialect::Sqlite) => {
                        let (ty, v) = json_each_match(value);
                        let t = self.bind(params, Param::Text(ty.to_owned()));
                        let v = match v {
                            EachValue::Param(p) => self.bind(params, p),
                            EachValue::Json(text) => {
                                format!("json({})", self.bind(params, Param::Text(text)))
                            }
                            EachValue::Null => "NULL".to_owned(),
                        };
                        let test = if ty == "null" {
                            format!("__e.type = {t}")
                        } else {
                            format!("__e.type = {t} AND __e.value = {v}")
                        };
                        // A counting subquery, not `EXISTS`: the SQLite
                        // that sqlx bundles turns `EXISTS` over `json_each`
                        // into a join, which returns a row once per
                        // matching element (two equal tags, two rows).
                        format!(
                            "(json_type({name}) = 'array' AND \
                             (SELECT count(*) FROM json_each({name}) AS __e WHERE {test}) > 0)"
                        )
                    }
                }
            }
            Predicate::Like { column, pattern } => {
                let name = quote(col(*column).name);
                match self.dialect {
                    Dialect::Postgres => {
                        let p = self.bind(params, Param::Text(pattern.clone()));
                        format!("{name} LIKE {p}")
                    }
                    // SQLite's LIKE ignores ASCII case; GLOB does not.
                    Dialect::Sqlite => {
                        let p = self.bind(params, Param::Text(like_to_glob(pattern)));
                        format!("{name} GLOB {p}")
                    }
                }
            }
            Predicate::IsNull { column, negated } => {
                let name = quote(col(*column).name);
                if *negated {
                    format!("{name} IS NOT NULL")
                } else {
                    format!("{name} IS NULL")
                }
            }
            Predicate::And(all) if all.is_empty() => "TRUE".to_owned(),
            Predicate::Or(any) if any.is_empty() => "FALSE".to_owned(),
            Predicate::And(all) => format!(
                "({})",
                all.iter()
                    .map(|p| self.predicate(p, params))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
            Predicate::Or(any) => format!(
                "({})",
                any.iter()
                    .map(|p| self.predicate(p, params))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
        }
    }
}

enum EachValue {
    Param(Param),
    Json(String),
    Null,
}

/// How SQLite's `json_each` shows a JSON element: its `type`, and its
/// `value` as an SQL value.
fn json_each_match(element: &Value) -> (&'static str, EachValue) {
    match element {
        Value::Null => ("null", EachValue::Null),
        Value::Bool(true) => ("true", EachValue::Param(Param::Integer(1))),
        Value::Bool(false) => ("false", EachValue::Param(Param::Integer(0))),
        Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(i) => ("integer", EachValue::Param(Param::Integer(i))),
            None => ("integer", EachValue::Json(n.to_string())),
        },
        Value::Number(n) => (
            "real",
            EachValue::Param(Param::Value(ColumnKind::Real, Value::Number(n.clone()))),
        ),
        Value::String(s) => ("text", EachValue::Param(Param::Text(s.clone()))),
        Value::Array(_) => ("array", EachValue::Json(element.to_string())),
        Value::Object(_) => ("object", EachValue::Json(element.to_string())),
    }
}

/// A `LIKE` pattern (`%`, `_`, `\` escapes) as an equivalent GLOB pattern.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    let literal = |out: &mut String, c: char| match c {
        '*' => out.push_str("[*]"),
        '?' => out.push_str("[?]"),
        '[' => out.push_str("[[]"),
        c => out.push(c),
    };
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => literal(&mut out, chars.next().unwrap_or('\\')),
            c => literal(&mut out, c),
        }
    }
    out
}
