//! JSON-lines files outside the store (audit checkpoints, audit archives): one value a
//! line, blank lines ignored, a bad line named by its number.

use crate::ports::{Result, StoreError};
use serde::de::DeserializeOwned;
use std::path::Path;

/// The values of `text`, read from `path` (named with `what` in errors).
pub(crate) fn parse<T: DeserializeOwned>(text: &str, what: &str, path: &Path) -> Result<Vec<T>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                StoreError::Corrupt(format!("{what} {} line {}: {e}", path.display(), i + 1))
            })
        })
        .collect()
}
