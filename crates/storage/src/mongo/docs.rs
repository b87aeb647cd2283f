//! Domain values to and from BSON documents: the value's own fields plus `_id`.

use crate::ports::{Result, StoreError};
use cw_core::time::Nanos;
use mongodb::bson::{self, Document};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(super) fn to_doc<T: Serialize>(id: &str, value: &T) -> Result<Document> {
    let mut doc =
        bson::to_document(value).map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
    doc.insert("_id", id);
    Ok(doc)
}

/// Sets the document's expiry ([`super::indexes::EXPIRE_AT`], a BSON date) to `at_ns`.
pub(super) fn expire_at(doc: &mut Document, at_ns: Nanos) {
    let at = bson::DateTime::from_millis(at_ns.div_euclid(1_000_000));
    doc.insert(super::indexes::EXPIRE_AT, at);
}

pub(super) fn from_doc<T: DeserializeOwned>(mut doc: Document) -> Result<T> {
    // `_id` duplicates a field of the value (or is the key of a keyed collection).
    doc.remove("_id");
    bson::from_document(doc).map_err(|e| StoreError::Corrupt(format!("decode: {e}")))
}
