//! cardiowatch domain model. Pure data and rules: nothing here does I/O, so every
//! service (and the offline CLI) shares exactly the same semantics.

pub mod alert;
pub mod audit;
pub mod contact;
pub mod delivery;
pub mod device;
pub mod ecg_paper;
pub mod episode;
pub mod escalation;
pub mod ids;
pub mod news2;
pub mod patient;
pub mod phi;
pub mod policy;
pub mod policy_input;
pub mod rules;
pub mod sample;
pub mod secret;
pub mod shard;
pub mod snooze;
pub mod time;
pub mod triage;
pub mod vital_alarms;
pub mod vital_rules;
pub mod vitals;

pub use alert::{Alert, AlertEvent, AlertEventKind, AlertState, Priority, RuleKind};
pub use delivery::{Channel, Delivery, DeliveryStatus};
pub use device::Device;
pub use episode::Episode;
pub use ids::{AlertId, DeviceId, PatientId, UserId};
pub use patient::{Patient, Role, User};
pub use policy::{HrLimit, ThresholdPolicy, ValidationError};
pub use sample::SampleBlock;
pub use shard::{SHARD_COUNT, shard_of, shard_topic, vitals_topic};
pub use vitals::{Site, VitalBatch, VitalKind, VitalReading, VitalStatus};
pub mod fatigue;
pub mod messages;
