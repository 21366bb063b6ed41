use super::ddl::{Dialect, Step, Table};
use super::{pinned, MIGRATIONS};

const DIALECTS: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

fn tables() -> impl Iterator<Item = &'static Table> {
    MIGRATIONS.iter().flat_map(|m| m.steps).filter_map(|s| match s {
        Step::Create(table) => Some(*table),
        _ => None,
    })
}

/// SQL as tokens: layout does not matter, every word and sign does.
fn tokens(sql: &str) -> Vec<String> {
    let spaced: String =
        sql.chars().flat_map(|c| if "(),;".contains(c) { vec![' ', c, ' '] } else { vec![c] }).collect();
    spaced.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn both_renderings_create_every_table_and_column() {
    let names: Vec<&str> = tables().map(|t| t.name).collect();
    assert_eq!(names, ["counter", "clients", "documents", "mutations", "webhook_outbox", "documents", "members"]);
    for dialect in DIALECTS {
        for (migration, table) in MIGRATIONS.iter().flat_map(|m| {
            m.steps.iter().filter_map(move |s| if let Step::Create(t) = s { Some((m, *t)) } else { None })
        }) {
            let sql = migration.sql(dialect);
            let start = sql.find(&format!("CREATE TABLE {} (\n", table.name));
            let body = start.map(|i| &sql[i..]).and_then(|rest| rest.split_once("\n);")).map(|(b, _)| b);
            let body = body.unwrap_or_else(|| panic!("{dialect:?}: no table {}", table.name));
            for column in table.columns {
                let line = format!("\n    {} ", column.name);
                assert!(body.contains(&line), "{dialect:?}: no column {}.{}", table.name, column.name);
            }
        }
    }
}

#[test]
fn keys_and_indexes_name_columns_of_their_tables() {
    for table in tables() {
        for key in table.primary_key {
            assert!(table.column(key).is_some(), "{}: no key column {key}", table.name);
        }
        let keys = table.columns.iter().filter(|c| c.primary_key).count() + usize::from(!table.primary_key.is_empty());
        assert!(keys <= 1, "{}: more than one primary key", table.name);
    }
    // An index names the columns of the table of that name created last before it.
    let mut created: Vec<&Table> = Vec::new();
    for step in MIGRATIONS.iter().flat_map(|m| m.steps) {
        if let Step::Create(table) = step {
            created.push(table);
        }
        if let Step::Index(index) = step {
            let table = created.iter().rev().find(|t| t.name == index.table);
            let table = table.unwrap_or_else(|| panic!("{}: no table {}", index.name, index.table));
            for column in index.columns {
                assert!(table.column(column).is_some(), "{}: no column {column}", index.name);
            }
        }
    }
    let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>(), "versions are 1, 2, 3, …");
}

#[test]
fn released_migrations_render_as_they_ran() {
    for (dialect, released) in [(Dialect::Sqlite, pinned::SQLITE), (Dialect::Postgres, pinned::POSTGRES)] {
        assert_eq!(released.len(), MIGRATIONS.len(), "every migration is pinned once released");
        for (migration, sql) in MIGRATIONS.iter().zip(released) {
            assert_eq!(
                tokens(&migration.sql(dialect)),
                tokens(sql),
                "{dialect:?} migration {}:\n{}",
                migration.version,
                migration.sql(dialect)
            );
        }
    }
}
