//! Queries over one collection (issue 17): the model and its validation (here), IndexedDB's
//! key order (`keys`), the planner that picks a declared index (`plan`), the filter,
//! order and pages every store shares (`exec`), and the keyset cursor (`cursor`).
//! Pure: a store fetches the candidates a plan names, `exec::finish` decides the answer.

pub mod cursor;
pub mod exec;
pub mod keys;
pub mod live;
pub mod plan;
pub mod walk;

use serde_json::{Map, Value};

use crate::config::CollectionConfig;
use crate::error::{Error, Result};

/// A validated `query(collection, {where, orderBy, limit, after})`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub collection: String,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// Empty: key order.
    pub order: Vec<OrderTerm>,
    pub limit: Option<usize>,
    pub after: Option<cursor::Position>,
    /// Of collection, conditions and order: what a cursor is bound to.
    pub fingerprint: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: String,
    /// The field has a multi-entry index: the condition holds when one element matches.
    pub multi_entry: bool,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    StartsWith(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderTerm {
    pub field: String,
    pub descending: bool,
}

/// What `parse` accepts: `query` takes everything, `count` only `where`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Page,
    Count,
}

const OPERATORS: &str = "gt, gte, lt, lte, in, startsWith";

impl Query {
    /// Validate a query given as JSON (`null` or absent parts allowed) against the
    /// collection's config.
    pub fn parse(config: &CollectionConfig, value: &Value, form: Form) -> Result<Query> {
        let fail = |reason: String| Error::InvalidQuery { collection: config.name.clone(), reason };
        let empty = Map::new();
        let object = match value {
            Value::Null => &empty,
            Value::Object(o) => o,
            _ => return Err(fail("the query must be an object such as { where: { owner: \"ana\" } }".into())),
        };
        let allowed: &[&str] = match form {
            Form::Page => &["where", "orderBy", "limit", "after"],
            Form::Count => &["where"],
        };
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(fail(format!(
                "unknown option \"{unknown}\" (expected {})",
                crate::text::joined(allowed, ", ")
            )));
        }
        let conditions = match object.get("where") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(fields)) => {
                let mut conditions = Vec::with_capacity(fields.len());
                for (field, condition) in fields {
                    conditions.push(parse_condition(config, field, condition).map_err(fail)?);
                }
                conditions
            }
            Some(_) => return Err(fail("`where` must be an object of field conditions".into())),
        };
        let order = parse_order(config, object.get("orderBy")).map_err(fail)?;
        let limit = match object.get("limit") {
            None | Some(Value::Null) => None,
            Some(l) => match l.as_u64() {
                Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => return Err(fail("`limit` must be a whole number of at least 1".into())),
            },
        };
        // An array built by hand, not by `json!` (see `Plan::explain`).
        let part = |name: &str| object.get(name).cloned().unwrap_or(Value::Null);
        let canonical =
            crate::json::text(&Value::Array(vec![Value::String(config.name.clone()), part("where"), part("orderBy")]));
        let fingerprint = cursor::fingerprint(&canonical);
        let after = match object.get("after") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let position = cursor::decode(text, fingerprint).map_err(|e| fail(e.into()))?;
                if position.values.len() != order.len() {
                    return Err(fail("`after` does not fit this query's order".into()));
                }
                Some(position)
            }
            Some(_) => return Err(fail("`after` must be the `next` string of the previous page, or null".into())),
        };
        Ok(Query { collection: config.name.clone(), conditions, order, limit, after, fingerprint })
    }

    pub fn condition(&self, field: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.field == field)
    }
}

fn is_multi_entry(config: &CollectionConfig, field: &str) -> bool {
    config.indexes.iter().any(|i| i.multi_entry && i.fields[0] == field)
}

fn parse_condition(config: &CollectionConfig, field: &str, spec: &Value) -> Result<Condition, String> {
    let ops = match spec {
        Value::Object(ops) if ops.is_empty() => return Err(format!("\"{field}\": no operator (expected {OPERATORS})")),
        Value::Object(ops) => {
            let mut parsed = Vec::with_capacity(ops.len());
            for (name, operand) in ops {
                parsed.push(parse_op(field, name, operand)?);
            }
            parsed
        }
        Value::Array(_) => return Err(format!("\"{field}\": to match one of several values use {{ in: [...] }}")),
        scalar => vec![Op::Eq(scalar.clone())],
    };
    Ok(Condition { field: field.to_owned(), multi_entry: is_multi_entry(config, field), ops })
}

fn parse_op(field: &str, name: &str, operand: &Value) -> Result<Op, String> {
    let bound = || {
        if operand.is_string() || operand.as_f64().is_some() {
            Ok(operand.clone())
        } else {
            Err(format!("\"{field}\": `{name}` takes a string or a number"))
        }
    };
    Ok(match name {
        "gt" => Op::Gt(bound()?),
        "gte" => Op::Gte(bound()?),
        "lt" => Op::Lt(bound()?),
        "lte" => Op::Lte(bound()?),
        "in" => match operand {
            Value::Array(values) if values.iter().all(|v| !v.is_array() && !v.is_object()) => Op::In(values.clone()),
            Value::Array(_) => {
                return Err(format!("\"{field}\": `in` takes an array of strings, numbers, booleans or null"))
            }
            _ => return Err(format!("\"{field}\": `in` must be an array")),
        },
        "startsWith" => match operand {
            Value::String(prefix) => Op::StartsWith(prefix.clone()),
            _ => return Err(format!("\"{field}\": `startsWith` takes a string")),
        },
        other => return Err(format!("\"{field}\": unknown operator \"{other}\" (expected {OPERATORS})")),
    })
}

fn parse_order(config: &CollectionConfig, spec: Option<&Value>) -> Result<Vec<OrderTerm>, String> {
    let terms: Vec<&Value> = match spec {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(terms)) => terms.iter().collect(),
        Some(one) => vec![one],
    };
    let mut order: Vec<OrderTerm> = Vec::with_capacity(terms.len());
    for term in terms {
        let Some(text) = term.as_str() else {
            return Err("`orderBy` takes a field, \"-field\" for descending, or an array of them".into());
        };
        let (field, descending) = match text.strip_prefix('-') {
            Some(field) => (field, true),
            None => (text, false),
        };
        if field.is_empty() {
            return Err("`orderBy` names an empty field".into());
        }
        if order.iter().any(|t| t.field == field) {
            return Err(format!("`orderBy` names \"{field}\" twice"));
        }
        if is_multi_entry(config, field) {
            return Err(format!("cannot order by \"{field}\": it has a multi-entry index (an array field)"));
        }
        order.push(OrderTerm { field: field.to_owned(), descending });
    }
    Ok(order)
}

#[cfg(test)]
mod tests;
