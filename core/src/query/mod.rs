//! Queries over one collection (issue 17): the model and its reader (here; `js/values.js`
//! checks a query's shape before, `checkQuery`), IndexedDB's
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

/// A `query(collection, {where, orderBy, limit, after})` as read for its collection.
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

impl Query {
    /// Read a query given as JSON (`null` or absent parts allowed) for the collection, as
    /// `js/values.js` checked it (`checkQuery`: its shape, options, operators, operands and
    /// order, each refused with its reason). Only what the script lets through is read
    /// faithfully: anything else is read as whatever is nearest (an unknown operator as a
    /// prefix, a `where` that is no object as none). What needs the cursor is checked
    /// here: `after` (`invalid-query`).
    pub fn parse(config: &CollectionConfig, value: &Value) -> Result<Query> {
        let fail = |reason: String| Error::InvalidQuery { collection: config.name.clone(), reason };
        let empty = Map::new();
        let object = value.as_object().unwrap_or(&empty);
        let mut conditions = Vec::new();
        for (field, spec) in object.get("where").and_then(Value::as_object).unwrap_or(&empty) {
            let mut ops = Vec::new();
            match spec {
                Value::Object(given) => {
                    for (name, operand) in given {
                        ops.push(match name.as_str() {
                            "gt" => Op::Gt(operand.clone()),
                            "gte" => Op::Gte(operand.clone()),
                            "lt" => Op::Lt(operand.clone()),
                            "lte" => Op::Lte(operand.clone()),
                            "in" => Op::In(operand.as_array().cloned().unwrap_or_default()),
                            _ => Op::StartsWith(operand.as_str().unwrap_or_default().to_owned()),
                        });
                    }
                }
                scalar => ops.push(Op::Eq(scalar.clone())),
            }
            conditions.push(Condition { field: field.clone(), multi_entry: is_multi_entry(config, field), ops });
        }
        let terms = match object.get("orderBy") {
            Some(Value::Array(terms)) => terms.as_slice(),
            Some(one) => std::slice::from_ref(one),
            None => &[],
        };
        let mut order = Vec::with_capacity(terms.len());
        for text in terms.iter().filter_map(Value::as_str) {
            let (field, descending) = match text.strip_prefix('-') {
                Some(field) => (field, true),
                None => (text, false),
            };
            order.push(OrderTerm { field: field.to_owned(), descending });
        }
        let limit = object.get("limit").and_then(Value::as_u64).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        // An array built by hand, not by `json!` (see `Plan::explain`).
        let part = |name: &str| object.get(name).cloned().unwrap_or(Value::Null);
        let canonical =
            crate::json::text(&Value::Array(vec![Value::String(config.name.clone()), part("where"), part("orderBy")]));
        let fingerprint = cursor::fingerprint(&canonical);
        let after = match object.get("after") {
            Some(Value::String(text)) => {
                let position = cursor::decode(text, fingerprint).map_err(|e| fail(e.into()))?;
                if position.values.len() != order.len() {
                    return Err(fail("`after` does not fit this query's order".into()));
                }
                Some(position)
            }
            _ => None,
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

#[cfg(test)]
mod tests;
