//! `export()`: a person's data as JSON or CSV, from the live records of each collection.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format> {
        match name {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(Error::InvalidValue {
                collection: String::new(),
                reason: format!("unknown export format \"{other}\"; expected \"json\" or \"csv\""),
            }),
        }
    }
}

/// One collection's name and its live values in key order.
pub type CollectionDump = (String, Vec<Value>);

pub fn render(format: Format, dump: &[CollectionDump], exported_at_ms: u64) -> String {
    match format {
        Format::Json => to_json(dump, exported_at_ms),
        Format::Csv => to_csv(dump),
    }
}

/// `{"format": "pwa-sync-export", "version": 1, "exportedAt": ms, "collections": {name: [values]}}`
pub fn to_json(dump: &[CollectionDump], exported_at_ms: u64) -> String {
    let collections: Map<String, Value> =
        dump.iter().map(|(name, values)| (name.clone(), Value::from(values.clone()))).collect();
    crate::json::text(&json!({
        "format": "pwa-sync-export", "version": 1, "exportedAt": exported_at_ms, "collections": collections
    }))
}

/// One table for all collections (RFC 4180): `collection` then the union of top-level
/// fields in first-seen order. Objects and arrays are written as JSON. Text that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading
/// `'`, as OWASP advises for CSV meant to be opened by people.
pub fn to_csv(dump: &[CollectionDump]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for (_, values) in dump {
        for value in values {
            for field in value.as_object().into_iter().flat_map(Map::keys) {
                if !columns.contains(&field.as_str()) {
                    columns.push(field);
                }
            }
        }
    }
    let mut out = String::new();
    push_row(&mut out, std::iter::once("collection").chain(columns.iter().copied()).map(csv_text));
    for (name, values) in dump {
        for value in values {
            let cells = columns.iter().map(|c| value.get(*c).map(csv_value).unwrap_or_default());
            push_row(&mut out, std::iter::once(csv_text(name)).chain(cells));
        }
    }
    out
}

fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell);
    }
    out.push_str("\r\n");
}

fn csv_value(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => csv_text(s),
        Value::Bool(_) | Value::Number(_) => crate::json::text(value),
        Value::Array(_) | Value::Object(_) => csv_text(&crate::json::text(value)),
    }
}

fn csv_text(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) || guarded.starts_with(' ') || guarded.ends_with(' ') {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump() -> Vec<CollectionDump> {
        vec![
            ("trips".into(), vec![json!({"id": "t1", "title": "Rome, \"the\" city", "days": 3})]),
            (
                "items".into(),
                vec![json!({"id": "i1", "tags": ["a", "b"], "note": "=SUM(A1)", "done": true, "gone": null})],
            ),
        ]
    }

    #[test]
    fn json_export_groups_values_by_collection() {
        let parsed: Value = serde_json::from_str(&to_json(&dump(), 42)).unwrap();
        assert_eq!(parsed["exportedAt"], 42);
        assert_eq!(parsed["collections"]["trips"][0]["days"], 3);
        assert_eq!(parsed["collections"]["items"][0]["tags"], json!(["a", "b"]));
    }

    #[test]
    fn csv_export_quotes_escapes_and_defuses_formulas() {
        let csv = to_csv(&dump());
        let lines: Vec<&str> = csv.split("\r\n").collect();
        // Fields come in first-seen order; within a value serde_json keeps them sorted.
        assert_eq!(lines[0], "collection,days,id,title,done,gone,note,tags");
        assert_eq!(lines[1], "trips,3,t1,\"Rome, \"\"the\"\" city\",,,,");
        assert_eq!(lines[2], "items,,i1,,true,,'=SUM(A1),\"[\"\"a\"\",\"\"b\"\"]\"");
        assert_eq!(lines[3], "");
    }

    #[test]
    fn unknown_format_is_refused() {
        assert_eq!(Format::parse("csv"), Ok(Format::Csv));
        assert_eq!(Format::parse("xml").map_err(|e| e.code()), Err("invalid-value"));
    }
}
