//! Who may do what: authentication from the bearer token, then per-patient authorization.
//! Default deny: a doctor reaches only patients they are assigned to.

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use cw_core::audit::AuditEntry;
use cw_core::time::{NANOS_PER_SEC, now_ns};
use cw_core::{PatientId, Role, UserId};

/// The audit action that grants break-glass access (the grant is the audit event).
pub const BREAK_GLASS_ACTION: &str = "break_glass";
/// The audit action of each access made under a grant.
pub const BREAK_GLASS_ACCESS: &str = "break_glass_access";
use cw_storage::StoreError;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserId,
    pub role: Role,
    /// The session of one of our access tokens (`None` for an OIDC token): what an open
    /// live socket re-checks (`authn::session_holds`).
    pub session: Option<crate::token::TokenSession>,
    /// The route's declared rule (`access_rule.rs`), once its layer has admitted the
    /// caller: it says whether [`Self::require_patient`] is for reading or changing.
    pub rule: Option<crate::access_rule::Access>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The audit middleware authenticated this request already.
        let caller = match parts.extensions.get::<crate::authn::Authentication>() {
            Some(done) => done.0.clone(),
            None => crate::authn::authenticate(state, &parts.headers).await,
        }?;
        Ok(Self {
            rule: parts.extensions.get().copied(),
            ..caller
        })
    }
}

impl Caller {
    /// Admins reach every patient; doctors only their assigned ones (or, to read, under
    /// break-glass); ops none (no PHI). A route declared
    /// [`Access::PatientChange`](crate::access_rule::Access::PatientChange) is a change.
    pub async fn require_patient(
        &self,
        state: &AppState,
        patient: &PatientId,
    ) -> Result<(), ApiError> {
        let usage = match self.rule {
            Some(crate::access_rule::Access::PatientChange) => Use::Change,
            _ => Use::Read,
        };
        self.require_patient_for(state, patient, usage).await
    }

    async fn require_patient_for(
        &self,
        state: &AppState,
        patient: &PatientId,
        usage: Use,
    ) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Ops => Err(ApiError::Forbidden),
            Role::Doctor => match state.records.patient(patient).await {
                Ok(p) if p.doctors.contains(&self.user) => Ok(()),
                Ok(_) if usage == Use::Change && self.grant(state, patient).await?.is_some() => {
                    tracing::warn!(user = %self.user, patient = %patient, "change under break-glass refused (read-only)");
                    Err(ApiError::BreakGlassReadOnly)
                }
                Ok(_) if usage == Use::Read && self.break_glass(state, patient).await? => Ok(()),
                // Unknown and not-yours look the same, so ids cannot be probed.
                Ok(_) | Err(StoreError::NotFound) => {
                    tracing::warn!(user = %self.user, patient = %patient, "access denied");
                    Err(ApiError::Forbidden)
                }
                Err(e) => Err(e.into()),
            },
        }
    }

    /// [`Self::require_patient`] for a caller authenticated a while ago (an open live
    /// socket): the account must still be active too. A disabled account reads as access
    /// revoked (`Forbidden`), so the socket closes with 4003 like any lost access.
    pub async fn recheck_patient(
        &self,
        state: &AppState,
        patient: &PatientId,
    ) -> Result<(), ApiError> {
        crate::authn::require_active(state, &self.user)
            .await
            .map_err(|e| match e {
                ApiError::AccountDisabled(_) => ApiError::Forbidden,
                other => other,
            })?;
        self.require_patient(state, patient).await
    }

    /// Whether an unexpired break-glass grant covers this patient; each access under one
    /// is an audit event of its own (with the grant's reason) and a warning log.
    async fn break_glass(&self, state: &AppState, patient: &PatientId) -> Result<bool, ApiError> {
        let Some(grant) = self.grant(state, patient).await? else {
            return Ok(false);
        };
        let access = AuditEntry {
            at_ns: now_ns(),
            action: BREAK_GLASS_ACCESS.into(),
            request_id: String::new(),
            ..grant.entry
        };
        state
            .records
            .append_audit(&access)
            .await
            .map_err(|_| ApiError::AuditUnavailable)?;
        tracing::warn!(user = %self.user, patient = %patient, grant_seq = grant.seq, "BREAK-GLASS access used");
        Ok(true)
    }

    /// This caller's unexpired break-glass grant for `patient`, if any.
    async fn grant(
        &self,
        state: &AppState,
        patient: &PatientId,
    ) -> Result<Option<cw_core::audit::AuditEvent>, ApiError> {
        let since = now_ns() - state.break_glass_ttl_s as i64 * NANOS_PER_SEC;
        Ok(state
            .records
            .latest_audit(self.user.as_str(), BREAK_GLASS_ACTION, patient, since)
            .await?)
    }

    /// The patients this caller may see.
    pub async fn patients(&self, state: &AppState) -> Result<Vec<PatientId>, ApiError> {
        match self.role {
            Role::Doctor => Ok(state
                .records
                .patients_of(&self.user)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect()),
            // Admin lists across patients arrive with the admin endpoints.
            Role::Admin | Role::Ops => Err(ApiError::Forbidden),
        }
    }
}

/// What a caller wants with a patient: break-glass grants reading only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    Read,
    Change,
}

pub fn parse_patient(raw: &str) -> Result<PatientId, ApiError> {
    PatientId::parse(raw).map_err(|e| ApiError::Invalid {
        field: Some("patient_id".into()),
        message: e.to_string(),
    })
}
