//! `export()`: a person's data as JSON or CSV.
