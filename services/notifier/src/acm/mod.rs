//! IHE PCD Alert Communication Management (issue 17 item 2): every alarm state change
//! goes to each configured alert manager as PCD-04 (`ORU^R40`) over MLLP, and the
//! manager's PCD-05 / accept acknowledgement is recorded on the delivery row.
//! Message building is pure (`hl7`, `pcd04`, `pcd05`); docs/integration.md, "Alert
//! managers".

pub mod hl7;
pub mod pcd04;
pub mod pcd05;
