//! What every FHIR search handler starts and ends with, in one place (review finding D5):
//! the caller, the query's parameters and the host the client used ([`Search`], an
//! extractor), the parameters it knows and the patient it names ([`Search::patient`]),
//! and the answer: one page of a searchset Bundle, naming its patient for the audit
//! record ([`Search::answer`]).

use super::search::{Params, bundle};
use super::{Fhir, FhirError};
use crate::access::{Caller, parse_patient};
use crate::app::AppState;
use crate::audit_trail::AuditPatient;
use crate::error::ApiError;
use axum::Extension;
use axum::extract::{FromRequestParts, Query};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use cw_core::PatientId;
use serde_json::Value;

pub fn invalid(field: &str, message: &str) -> FhirError {
    FhirError(ApiError::Invalid {
        field: Some(field.into()),
        message: message.into(),
    })
}

/// A search request: who asks, with what parameters, on which host.
pub struct Search {
    pub caller: Caller,
    pub params: Params,
    host: String,
}

impl FromRequestParts<AppState> for Search {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, FhirError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| FhirError(ApiError::BadRequest(e.body_text())))?;
        Ok(Self {
            caller,
            params: Params(pairs),
            host: host(&parts.headers),
        })
    }
}

/// The host the client used, for absolute paging links; `localhost` when the header is
/// missing or not plain ASCII.
fn host(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost")
        .to_owned()
}

impl Search {
    /// Refuses a parameter outside `known` (a misspelt one must not widen a search).
    pub fn known(&self, known: &[&str]) -> Result<(), FhirError> {
        Ok(self.params.only(known)?)
    }

    /// [`Self::known`], then the required `patient` parameter (`Patient/ID` or `ID`) and
    /// the caller's right to read that patient.
    pub async fn patient(&self, state: &AppState, known: &[&str]) -> Result<PatientId, FhirError> {
        self.known(known)?;
        let raw = self
            .params
            .one("patient")?
            .ok_or_else(|| invalid("patient", "patient is required"))?;
        let id = parse_patient(raw.strip_prefix("Patient/").unwrap_or(raw))?;
        self.caller.require_patient(state, &id).await?;
        Ok(id)
    }

    /// The page `_offset`/`_count` ask for of `all` as a searchset Bundle of `kind`, its
    /// links on the client's host; `audited` names the patient in the audit record.
    pub fn answer(
        &self,
        kind: &str,
        all: Vec<Value>,
        audited: Option<PatientId>,
    ) -> Result<Response, FhirError> {
        let (offset, count) = self.params.page()?;
        Ok(self.bundle(kind, all, offset, count, audited))
    }

    /// `https://host/fhir/R4/<kind>`: paging links are absolute, on the host the client
    /// used.
    pub fn base(&self, kind: &str) -> String {
        format!("https://{}/fhir/R4/{kind}", self.host)
    }

    /// `all` as one Bundle page from `offset`, `count` long.
    pub fn bundle(
        &self,
        kind: &str,
        all: Vec<Value>,
        offset: usize,
        count: usize,
        audited: Option<PatientId>,
    ) -> Response {
        let body = Fhir(bundle(&self.base(kind), &self.params, all, offset, count));
        match audited {
            Some(patient) => (Extension(AuditPatient(patient)), body).into_response(),
            None => body.into_response(),
        }
    }
}
