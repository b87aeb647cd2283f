//! `ValidQuery<T>`: axum's `Query` whose rejection is our JSON error (400 naming the
//! problem) instead of axum's plain-text body, so every error has the documented shape.

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

pub struct ValidQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ValidQuery(q))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}
