//! The building blocks of the schema (tables, columns, indexes, migration steps) and how
//! each database spells them. Both dialects take the same SQL except for column types and
//! auto-assigned ids, so rendering is a few words per dialect.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// What a column holds; each dialect names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    /// 32-bit integer (read as `i32`): INTEGER in both.
    Int,
    /// 64-bit integer (versions, ids, Unix ms): BIGINT; SQLite's INTEGER is 64-bit already,
    /// and the existing SQLite databases spell it INTEGER.
    BigInt,
    Text,
    /// A 64-bit id the database assigns, never reused, and the table's primary key:
    /// `INTEGER PRIMARY KEY AUTOINCREMENT` (SQLite), `BIGSERIAL PRIMARY KEY` (PostgreSQL).
    Serial,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub ty: Type,
    pub primary_key: bool,
    pub not_null: bool,
    pub default: Option<&'static str>,
    pub unique: bool,
    /// A `CHECK` expression (the same SQL in both dialects).
    pub check: Option<&'static str>,
}

/// A nullable column; the builders below add constraints.
pub(crate) const fn column(name: &'static str, ty: Type) -> Column {
    Column { name, ty, primary_key: false, not_null: false, default: None, unique: false, check: None }
}

impl Column {
    pub(crate) const fn not_null(self) -> Column {
        Column { not_null: true, ..self }
    }
    /// The primary key on its own (a composite key is [`Table::primary_key`]).
    pub(crate) const fn primary_key(self) -> Column {
        Column { primary_key: true, ..self }
    }
    pub(crate) const fn unique(self) -> Column {
        Column { unique: true, ..self }
    }
    pub(crate) const fn default(self, sql: &'static str) -> Column {
        Column { default: Some(sql), ..self }
    }
    pub(crate) const fn check(self, sql: &'static str) -> Column {
        Column { check: Some(sql), ..self }
    }
}

pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// A composite primary key; empty when a column is the key.
    pub primary_key: &'static [&'static str],
}

pub(crate) struct Index {
    pub name: &'static str,
    pub table: &'static str,
    pub columns: &'static [&'static str],
    /// A partial index's `WHERE` condition.
    pub filter: Option<&'static str>,
}

pub(crate) enum Step {
    Create(&'static Table),
    Index(&'static Index),
    /// A statement both dialects take as written (seed rows).
    Sql(&'static str),
}

/// One schema version. Once released, a migration never changes: databases that applied
/// it are not migrated again, so its DDL must stay what they ran.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub steps: &'static [Step],
}

impl Migration {
    /// The migration's statements in `dialect`, each ended by `;`.
    pub(crate) fn sql(&self, dialect: Dialect) -> String {
        let mut sql = String::new();
        for step in self.steps {
            match step {
                Step::Create(table) => sql.push_str(&table.sql(dialect)),
                Step::Index(index) => sql.push_str(&index.sql()),
                Step::Sql(statement) => sql.push_str(statement),
            }
            sql.push_str(";\n");
        }
        sql
    }
}

impl Table {
    pub(crate) fn sql(&self, dialect: Dialect) -> String {
        let mut lines: Vec<String> = self.columns.iter().map(|c| c.sql(dialect)).collect();
        if !self.primary_key.is_empty() {
            lines.push(format!("PRIMARY KEY ({})", self.primary_key.join(", ")));
        }
        format!("CREATE TABLE {} (\n    {}\n)", self.name, lines.join(",\n    "))
    }

    #[cfg(test)]
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl Column {
    fn sql(&self, dialect: Dialect) -> String {
        let ty = match (self.ty, dialect) {
            (Type::Int, _) | (Type::BigInt | Type::Serial, Dialect::Sqlite) => "INTEGER",
            (Type::BigInt, Dialect::Postgres) => "BIGINT",
            (Type::Text, _) => "TEXT",
            (Type::Serial, Dialect::Postgres) => "BIGSERIAL",
        };
        let mut sql = format!("{} {ty}", self.name);
        if self.primary_key || self.ty == Type::Serial {
            sql.push_str(" PRIMARY KEY");
        }
        if self.ty == Type::Serial && dialect == Dialect::Sqlite {
            // Without it SQLite may hand out the id of a deleted last row again.
            sql.push_str(" AUTOINCREMENT");
        }
        if self.not_null {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = self.default {
            // Writing to a String cannot fail.
            let _ = write!(sql, " DEFAULT {default}");
        }
        if self.unique {
            sql.push_str(" UNIQUE");
        }
        if let Some(check) = self.check {
            let _ = write!(sql, " CHECK ({check})");
        }
        sql
    }
}

impl Index {
    fn sql(&self) -> String {
        let mut sql = format!("CREATE INDEX {} ON {} ({})", self.name, self.table, self.columns.join(", "));
        if let Some(filter) = self.filter {
            let _ = write!(sql, " WHERE {filter}");
        }
        sql
    }
}
