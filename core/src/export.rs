//! `export()`'s formats: a person's data as JSON or CSV. The text is rendered by the web
//! layer's export script (`js/export.js`) from the values it read, which are JavaScript
//! objects there.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_format_is_refused() {
        assert_eq!(Format::parse("csv"), Ok(Format::Csv));
        assert_eq!(Format::parse("xml").map_err(|e| e.code()), Err("invalid-value"));
    }
}
