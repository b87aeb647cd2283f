//! NEWS2 scores as they are kept and shown (issue 18): the aggregate, each component,
//! the missing parameters, the response and what was assumed. The scoring itself is
//! clinical logic, in `cw_analysis::news2` (docs/vitals.md, "NEWS2"); these types live
//! here so the stores (the NEWS2 trend) and the api share them without the analysis.

use crate::time::Nanos;
use serde::{Deserialize, Serialize};

/// The seven NEWS2 parameters, in the chart's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Parameter {
    RespirationRate,
    Spo2,
    AirOrOxygen,
    SystolicBp,
    Pulse,
    Consciousness,
    Temperature,
}

/// The RCP clinical response the aggregate calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Response {
    /// Aggregate 0–4 with no parameter scoring 3: ward-based response.
    Routine,
    /// Aggregate 5–6, or a 3 in any one parameter: urgent review.
    Urgent,
    /// Aggregate 7 or more: emergency response.
    Emergency,
}

/// One parameter's score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Component {
    pub parameter: Parameter,
    pub score: u8,
}

/// A NEWS2 score: the aggregate, its components (the parameters that had a value) and the
/// parameters that had none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct News2 {
    pub total: u8,
    pub components: Vec<Component>,
    pub missing: Vec<Parameter>,
    pub response: Response,
}

impl News2 {
    /// All seven parameters had a value.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The score of one parameter, None when it was missing.
    pub fn component(&self, parameter: Parameter) -> Option<u8> {
        self.components
            .iter()
            .find(|c| c.parameter == parameter)
            .map(|c| c.score)
    }
}

/// A NEWS2 score at a time, with what it assumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct News2Assessment {
    pub at_ns: Nanos,
    #[serde(flatten)]
    pub score: News2,
    /// Parameters no clinician recorded, scored 0 by assumption (air, alert).
    pub assumed: Vec<Parameter>,
}
