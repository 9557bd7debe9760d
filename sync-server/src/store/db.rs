//! The one place that knows the server has two database drivers: rusqlite
//! for the embedded default, `postgres` for several nodes. A feature writes
//! its queries once, against [`Tx`]:
//!
//! - SQL is written once, with `?1`, `?2`… parameters ([`sql!`]); for
//!   PostgreSQL each statement is rewritten to `$1`, `$2`… once, the first
//!   time it runs;
//! - arguments are [`Value`]s, bound to whatever integer, text or bytes
//!   type the column has;
//! - rows are read into [`Row`]s whose getters return errors, never panic,
//!   on a missing column or a value of the wrong kind;
//! - what really differs between the two is named, and done right per
//!   dialect: [`Tx::lock`] for an advisory lock; in a statement,
//!   `{for_update}` to lock the rows read and `{skip_locked}` to pass over
//!   rows other workers hold (`FOR UPDATE`, `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL; nothing on SQLite, whose one writer already has them all),
//!   and `{json_list ?N}` for a list parameter, passed as a JSON array.
//!
//! [`super::Store`] runs work in a write or read transaction, committed
//! only if the work succeeds.

use std::collections::HashMap;
use std::sync::OnceLock;

use ::postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use bytes::BytesMut;
use doorstep_shared::ids::{
    BlobHash, DeviceId, JobId, Name, PhotoId, PropertyId, RoundId, ServiceId, StateId, TeamId,
    TenantId, UserId,
};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::StoreError;
use crate::office::staff::StaffRole;

/// A statement, written once with `?N` parameters.
pub struct Sql {
    text: &'static str,
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
}

/// Where a claiming query skips rows other workers hold.
const SKIP_LOCKED: &str = "{skip_locked}";
/// Where a query locks the rows it reads until the transaction ends.
const FOR_UPDATE: &str = "{for_update}";
/// `{json_list ?N}`: the values of parameter N, a JSON array of text, as a
/// subquery for `IN` (json_each on SQLite, json_array_elements_text on
/// PostgreSQL): one way to pass a list to both.
const JSON_LIST: &str = "{json_list ";

/// Replaces each `{json_list ?N}` with what `write` makes of `?N`.
fn json_lists(text: &str, write: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(JSON_LIST) {
        out.push_str(&rest[..start]);
        let after = &rest[start + JSON_LIST.len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&write(after[..end].trim()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

impl Sql {
    /// A statement with SQLite's `?N` parameters.
    pub const fn new(text: &'static str) -> Self {
        Self {
            text,
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }
    }

    /// Its text for SQLite.
    pub fn sqlite(&self) -> &str {
        self.sqlite.get_or_init(|| {
            // SQLite's one writer already holds every row.
            let text = self.text.replace(SKIP_LOCKED, "").replace(FOR_UPDATE, "");
            json_lists(&text, |param| {
                format!("(SELECT value FROM json_each({param}))")
            })
        })
    }

    /// Its text for PostgreSQL, rewritten the first time it is asked for.
    pub fn postgres(&self) -> &str {
        self.postgres.get_or_init(|| {
            let text = self
                .text
                .replace(SKIP_LOCKED, "FOR UPDATE SKIP LOCKED")
                .replace(FOR_UPDATE, "FOR UPDATE");
            to_postgres(&json_lists(&text, |param| {
                // Cast to text first, so the parameter is sent as text.
                format!("(SELECT json_array_elements_text(CAST(CAST({param} AS text) AS json)))")
            }))
        })
    }
}

/// A statement written once for both databases: `sql!("SELECT … WHERE id =
/// ?1")`. Each use site keeps its own PostgreSQL rewrite.
#[macro_export]
macro_rules! sql {
    ($text:expr) => {{
        static STATEMENT: $crate::store::db::Sql = $crate::store::db::Sql::new($text);
        &STATEMENT
    }};
}

/// `?N` parameters as PostgreSQL's `$N`, leaving quoted text alone.
fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

/// An argument or a column's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer (and a boolean, as 0 or 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// Converts each listed type into a [`Value`] with the given closure.
macro_rules! values {
    ($($ty:ty => |$value:ident| $make:expr;)*) => {$(
        impl From<$ty> for Value {
            fn from($value: $ty) -> Self {
                $make
            }
        }
    )*};
}

values! {
    i64 => |value| Value::Int(value);
    u32 => |value| Value::Int(i64::from(value));
    // Counts and byte offsets: far below i64::MAX, saturating if ever not.
    u64 => |value| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    usize => |value| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
    bool => |value| Value::Int(i64::from(value));
    Timestamp => |value| Value::Int(value.as_millis());
    &str => |value| Value::Text(value.to_owned());
    String => |value| Value::Text(value);
    &String => |value| Value::Text(value.clone());
    &[u8] => |value| Value::Bytes(value.to_vec());
    Vec<u8> => |value| Value::Bytes(value);
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// Types stored as their text (ids, names, roles): passed as arguments as
/// they are, and read back by [`Row::get`], whose error names the type if
/// the text does not parse.
macro_rules! stored_as_text {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Value {
            fn from(value: $ty) -> Self {
                Value::Text(value.to_string())
            }
        }

        impl From<&$ty> for Value {
            fn from(value: &$ty) -> Self {
                Value::Text(value.to_string())
            }
        }

        impl FromValue for $ty {
            fn from_value(value: &Value) -> Result<Self, StoreError> {
                let text = String::from_value(value)?;
                text.parse().map_err(|_| StoreError::Corrupt {
                    what: stringify!($ty),
                    value: text,
                })
            }
        }
    )*};
}

stored_as_text!(
    BlobHash, DeviceId, DocumentId, JobId, Name, PhotoId, PropertyId, Role, RoundId, ServiceId,
    StaffRole, StateId, TeamId, TenantId, UserId,
);

/// The arguments of a statement: `args![tenant.to_string(), crew, 3]`.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($value)),*]
    };
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(value) => ValueRef::Integer(*value),
            Value::Text(value) => ValueRef::Text(value.as_bytes()),
            Value::Bytes(value) => ValueRef::Blob(value),
        }))
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) => match *ty {
                Type::BOOL => (*value != 0).to_sql(ty, out),
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Value::Text(value) => value.to_sql(ty, out),
            Value::Bytes(value) => value.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::BOOL,
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::BYTEA,
        ]
        .contains(ty)
    }

    to_sql_checked!();
}

/// A row read back: each getter says what was wrong instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(Vec<Value>);

impl Row {
    /// Column `index` as a `T`.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, StoreError> {
        let value = self.0.get(index).ok_or(StoreError::Corrupt {
            what: "column",
            value: format!("no column {index}"),
        })?;
        T::from_value(value)
    }

    fn from_sqlite(row: &rusqlite::Row<'_>, columns: usize) -> Result<Self, StoreError> {
        (0..columns)
            .map(|index| {
                Ok(match row.get_ref(index)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(value) => Value::Int(value),
                    ValueRef::Real(value) => Value::Text(value.to_string()),
                    ValueRef::Text(value) => {
                        Value::Text(String::from_utf8(value.to_vec()).map_err(|_| {
                            StoreError::Corrupt {
                                what: "text",
                                value: String::from_utf8_lossy(value).into_owned(),
                            }
                        })?)
                    }
                    ValueRef::Blob(value) => Value::Bytes(value.to_vec()),
                })
            })
            .collect::<Result<_, StoreError>>()
            .map(Row)
    }

    fn from_postgres(row: &::postgres::Row) -> Result<Self, StoreError> {
        row.columns()
            .iter()
            .enumerate()
            .map(|(index, column)| {
                let value = match *column.type_() {
                    Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(Value::from),
                    Type::INT2 => row
                        .try_get::<_, Option<i16>>(index)?
                        .map(|v| Value::Int(v.into())),
                    Type::INT4 => row
                        .try_get::<_, Option<i32>>(index)?
                        .map(|v| Value::Int(v.into())),
                    Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Int),
                    Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Bytes),
                    _ => row.try_get::<_, Option<String>>(index)?.map(Value::Text),
                };
                Ok(value.unwrap_or(Value::Null))
            })
            .collect::<Result<_, StoreError>>()
            .map(Row)
    }
}

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    /// Reads it, or says what the column held instead.
    fn from_value(value: &Value) -> Result<Self, StoreError>;
}

fn wrong(what: &'static str, value: &Value) -> StoreError {
    StoreError::Corrupt {
        what,
        value: format!("{value:?}"),
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, StoreError> {
        match value {
            Value::Int(value) => Ok(*value),
            other => Err(wrong("integer", other)),
        }
    }
}

/// Counts and sizes: integers that are never negative.
macro_rules! counts {
    ($($ty:ty),*) => {$(
        impl FromValue for $ty {
            fn from_value(value: &Value) -> Result<Self, StoreError> {
                let wide = i64::from_value(value)?;
                <$ty>::try_from(wide).map_err(|_| wrong("count", value))
            }
        }
    )*};
}

counts!(u32, u64, usize);

impl FromValue for Timestamp {
    fn from_value(value: &Value) -> Result<Self, StoreError> {
        i64::from_value(value).map(Timestamp::from_millis)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, StoreError> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, StoreError> {
        match value {
            Value::Text(value) => Ok(value.clone()),
            other => Err(wrong("text", other)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, StoreError> {
        match value {
            Value::Bytes(value) => Ok(value.clone()),
            other => Err(wrong("bytes", other)),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, StoreError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// What a row is read as: one column's value, or a tuple of the first
/// columns' values, or a record that reads its own columns.
pub trait FromRow: Sized {
    /// Reads it, or says which column held what instead.
    fn from_row(row: &Row) -> Result<Self, StoreError>;
}

impl<T: FromValue> FromRow for T {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        row.get(0)
    }
}

macro_rules! tuple_rows {
    ($(($($name:ident $index:tt),+))*) => {$(
        impl<$($name: FromValue),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row) -> Result<Self, StoreError> {
                Ok(($(row.get::<$name>($index)?,)+))
            }
        }
    )*};
}

tuple_rows! {
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}

/// The statements one PostgreSQL connection has prepared, by their text:
/// each is parsed and planned by the server once per connection, not once
/// per use.
pub type Statements = HashMap<&'static str, ::postgres::Statement>;

/// A transaction on either database, borrowed from whoever began it (a
/// [`Database`], or a sync transaction) and will commit it.
pub enum Tx<'c, 't> {
    /// SQLite, begun `IMMEDIATE` for writes: one writer at a time.
    Sqlite(&'c rusqlite::Connection),
    /// PostgreSQL, with its connection's prepared statements.
    Postgres(&'c mut ::postgres::Transaction<'t>, &'c mut Statements),
}

/// `sql` prepared on the transaction's connection, once per connection.
fn prepared(
    tx: &mut ::postgres::Transaction<'_>,
    statements: &mut Statements,
    sql: &'static Sql,
) -> Result<::postgres::Statement, StoreError> {
    let text = sql.postgres();
    if let Some(statement) = statements.get(text) {
        return Ok(statement.clone());
    }
    let statement = tx.prepare(text)?;
    statements.insert(text, statement.clone());
    Ok(statement)
}

impl<'t> Tx<'_, 't> {
    /// The same transaction, borrowed again for a callee that takes a `Tx`.
    pub fn reborrow(&mut self) -> Tx<'_, 't> {
        match self {
            Tx::Sqlite(connection) => Tx::Sqlite(connection),
            Tx::Postgres(transaction, statements) => Tx::Postgres(transaction, statements),
        }
    }

    /// Runs several statements with no parameters (a migration).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(connection) => connection.execute_batch(sql)?,
            Tx::Postgres(transaction, _) => transaction.batch_execute(sql)?,
        }
        Ok(())
    }

    /// How many migrations the database has had: SQLite's `user_version`,
    /// a table of its own on PostgreSQL.
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        match self {
            Tx::Sqlite(connection) => {
                Ok(connection.pragma_query_value(None, "user_version", |row| row.get(0))?)
            }
            Tx::Postgres(transaction, _) => {
                transaction.batch_execute(
                    "CREATE TABLE IF NOT EXISTS doorstep_migrations (version BIGINT NOT NULL)",
                )?;
                Ok(transaction
                    .query_one("SELECT count(*) FROM doorstep_migrations", &[])?
                    .try_get(0)?)
            }
        }
    }

    /// Records that migration `version` has run.
    pub fn set_schema_version(&mut self, version: i64) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(connection) => connection.pragma_update(None, "user_version", version)?,
            Tx::Postgres(transaction, _) => {
                transaction.execute(
                    "INSERT INTO doorstep_migrations (version) VALUES ($1)",
                    &[&version],
                )?;
            }
        }
        Ok(())
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&mut self, sql: &'static Sql, args: &[Value]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(sql.sqlite())?;
                let changed = statement.execute(rusqlite::params_from_iter(args.iter()))?;
                Ok(changed as u64)
            }
            Tx::Postgres(tx, statements) => {
                let statement = prepared(tx, statements, sql)?;
                Ok(tx.execute(&statement, &pg_args(args))?)
            }
        }
    }

    /// Runs a query; returns its rows.
    pub fn query(&mut self, sql: &'static Sql, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(sql.sqlite())?;
                let columns = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(args.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(Row::from_sqlite(row, columns)?);
                }
                Ok(out)
            }
            Tx::Postgres(tx, statements) => {
                let statement = prepared(tx, statements, sql)?;
                tx.query(&statement, &pg_args(args))?
                    .iter()
                    .map(Row::from_postgres)
                    .collect()
            }
        }
    }

    /// Runs a query that returns at most one row.
    pub fn query_opt(
        &mut self,
        sql: &'static Sql,
        args: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Runs a query that returns exactly one row (an aggregate).
    pub fn query_one(&mut self, sql: &'static Sql, args: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, args)?.ok_or(StoreError::Corrupt {
            what: "query result",
            value: "no row".into(),
        })
    }

    /// Runs a query; reads each row as a `T`.
    pub fn all<T: FromRow>(
        &mut self,
        sql: &'static Sql,
        args: &[Value],
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, args)?.iter().map(T::from_row).collect()
    }

    /// Runs a query that returns at most one row, read as a `T`.
    pub fn opt<T: FromRow>(
        &mut self,
        sql: &'static Sql,
        args: &[Value],
    ) -> Result<Option<T>, StoreError> {
        self.query_opt(sql, args)?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    /// Runs a query that returns exactly one row, read as a `T`.
    pub fn one<T: FromRow>(&mut self, sql: &'static Sql, args: &[Value]) -> Result<T, StoreError> {
        T::from_row(&self.query_one(sql, args)?)
    }

    /// Holds `key` until the transaction ends, so writers that check and
    /// write the same thing (the last place in a slot) take turns. On
    /// PostgreSQL an advisory lock; on SQLite the write transaction already
    /// holds the only writer's lock.
    pub fn lock(&mut self, key: &str) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(..) => {
                self.execute(
                    crate::sql!("SELECT pg_advisory_xact_lock(hashtext(?1))"),
                    crate::args![key],
                )?;
                Ok(())
            }
        }
    }
}

fn pg_args(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|arg| arg as &(dyn ToSql + Sync)).collect()
}
