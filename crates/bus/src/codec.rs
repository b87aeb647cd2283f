//! What an envelope seals: the plaintext layout of each envelope version and the body
//! encoding of each kind.
//!
//! Version 2 (written by default):
//! ```text
//! bytes 0..16   message id (u128, big-endian)
//! bytes 16..24  publisher (u64, big-endian)
//! bytes 24..32  seq (u64, big-endian)
//! bytes 32..40  sent_ns (i64, big-endian)
//! bytes 40..    body in its kind's encoding (`Kind::encoding`)
//! ```
//! The envelope's own fields are fixed binary outside the body encoding, so the u128 id
//! never depends on a codec's number range; this layout is frozen for version 2.
//!
//! Body encodings:
//! * [`Encoding::Json`] (alert events, live events, config changes, vitals): self-describing, so
//!   a reader ignores fields it does not know and defaults the missing ones that are
//!   `Option` or `#[serde(default)]`: adding such a field to one of these types needs no
//!   new version, and old and new services read each other's messages.
//! * [`Encoding::Postcard`] (samples): positional, about 6× faster to decode and 2.5×
//!   smaller than JSON for a sample block (docs/benchmarks.md), so the layout of
//!   `SamplesStored` / `SampleBlock` is FROZEN on the bus (pinned by the test
//!   `samples_body_layout_is_frozen`). Changing either means a new kind or a new envelope
//!   version, rolled out as described in [`crate::envelope`].
//!
//! Version 1 (still opened, written only with `bus.seal_version = 1`): the whole
//! `Envelope<T>` in postcard, for a rolling upgrade from services that write it.

use crate::BusError;
use crate::envelope::{Envelope, Kind};
use serde::{Serialize, de::DeserializeOwned};

/// Bytes of the envelope fields in front of a version-2 body.
const META_LEN: usize = 40;

const MALFORMED: BusError = BusError::Rejected("malformed body");

/// How a kind's body is encoded inside a version-2 envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// serde_json: tolerant of added and removed optional fields.
    Json,
    /// postcard: positional, so the body type's layout is frozen.
    Postcard,
}

impl Kind {
    /// The body encoding of this kind. Changing it is an incompatible change (new version).
    pub fn encoding(self) -> Encoding {
        match self {
            Kind::Samples => Encoding::Postcard,
            Kind::AlertEvent | Kind::LiveEvent | Kind::ConfigChange | Kind::Vitals => {
                Encoding::Json
            }
        }
    }
}

/// The version-2 plaintext of `envelope` as a message of `kind`.
pub(crate) fn encode_v2<T: Serialize>(
    kind: Kind,
    envelope: &Envelope<T>,
) -> Result<Vec<u8>, BusError> {
    let mut plain = Vec::with_capacity(META_LEN + 512);
    plain.extend_from_slice(&envelope.id.to_be_bytes());
    plain.extend_from_slice(&envelope.publisher.to_be_bytes());
    plain.extend_from_slice(&envelope.seq.to_be_bytes());
    plain.extend_from_slice(&envelope.sent_ns.to_be_bytes());
    match kind.encoding() {
        Encoding::Json => serde_json::to_writer(&mut plain, &envelope.body)
            .map_err(|e| BusError::Encode(e.to_string()))?,
        Encoding::Postcard => {
            plain = postcard::to_extend(&envelope.body, plain)
                .map_err(|e| BusError::Encode(e.to_string()))?;
        }
    }
    Ok(plain)
}

/// The envelope in a version-2 plaintext of a message of `kind`.
pub(crate) fn decode_v2<T: DeserializeOwned>(
    kind: Kind,
    plain: &[u8],
) -> Result<Envelope<T>, BusError> {
    let (meta, body) = plain.split_at_checked(META_LEN).ok_or(MALFORMED)?;
    let (id, meta) = meta.split_first_chunk::<16>().ok_or(MALFORMED)?;
    let (publisher, meta) = meta.split_first_chunk::<8>().ok_or(MALFORMED)?;
    let (seq, meta) = meta.split_first_chunk::<8>().ok_or(MALFORMED)?;
    let (sent_ns, _) = meta.split_first_chunk::<8>().ok_or(MALFORMED)?;
    let body = match kind.encoding() {
        Encoding::Json => serde_json::from_slice(body).map_err(|_| MALFORMED)?,
        Encoding::Postcard => postcard::from_bytes(body).map_err(|_| MALFORMED)?,
    };
    Ok(Envelope {
        id: u128::from_be_bytes(*id),
        publisher: u64::from_be_bytes(*publisher),
        seq: u64::from_be_bytes(*seq),
        sent_ns: i64::from_be_bytes(*sent_ns),
        body,
    })
}

/// The version-1 plaintext: the whole envelope in postcard.
pub(crate) fn encode_v1<T: Serialize>(envelope: &Envelope<T>) -> Result<Vec<u8>, BusError> {
    postcard::to_stdvec(envelope).map_err(|e| BusError::Encode(e.to_string()))
}

pub(crate) fn decode_v1<T: DeserializeOwned>(plain: &[u8]) -> Result<Envelope<T>, BusError> {
    postcard::from_bytes(plain).map_err(|_| MALFORMED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BusConfig, Sealer};
    use cw_core::messages::{ConfigChange, LiveEvent, SamplesStored};
    use cw_core::snooze::AlertSnooze;
    use cw_core::{
        Alert, AlertEvent, AlertEventKind, DeviceId, PatientId, Priority, RuleKind, SampleBlock,
    };
    use serde::Deserialize;
    use serde_json::{Value, json};

    fn sealer() -> Sealer {
        Sealer::from_config(&BusConfig {
            key_id: 1,
            key_hex: Some(Sealer::generate_key_hex().into()),
            ..BusConfig::default()
        })
        .expect("valid key")
    }

    fn envelope<T>(body: T) -> Envelope<T> {
        Envelope {
            id: u128::MAX - 1,
            publisher: u64::MAX,
            seq: 3,
            sent_ns: i64::MIN + 5,
            body,
        }
    }

    /// Seals `body` as `kind` and opens it as `R`, as a service of another release would.
    fn across<W: Serialize, R: DeserializeOwned>(kind: Kind, body: W) -> Result<R, BusError> {
        let s = sealer();
        let sealed = s.seal(kind, b"t", &envelope(body))?;
        s.open::<R>(kind, b"t", &sealed).map(|e| e.body)
    }

    /// A message type as an older release has it…
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Older {
        patient: String,
        value: f32,
        tags: Vec<String>,
    }

    /// …and as a newer release has it, with fields added the compatible way.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Newer {
        patient: String,
        value: f32,
        tags: Vec<String>,
        #[serde(default)]
        snooze_until_ns: Option<i64>,
        #[serde(default)]
        escalations: u32,
    }

    const JSON_KINDS: [Kind; 4] = [
        Kind::AlertEvent,
        Kind::LiveEvent,
        Kind::ConfigChange,
        Kind::Vitals,
    ];

    #[test]
    fn an_older_reader_ignores_a_field_a_newer_writer_added() {
        for kind in JSON_KINDS {
            let newer = Newer {
                patient: "p1".into(),
                value: 151.5,
                tags: vec!["a".into()],
                snooze_until_ns: Some(99),
                escalations: 2,
            };
            let opened: Older = across(kind, &newer).expect("opens");
            assert_eq!(
                opened,
                Older {
                    patient: "p1".into(),
                    value: 151.5,
                    tags: vec!["a".into()],
                },
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_newer_reader_defaults_a_field_an_older_writer_does_not_send() {
        for kind in JSON_KINDS {
            let older = Older {
                patient: "p1".into(),
                value: 40.0,
                tags: vec![],
            };
            let opened: Newer = across(kind, &older).expect("opens");
            assert_eq!(opened.patient, "p1", "{kind:?}");
            assert_eq!(opened.snooze_until_ns, None);
            assert_eq!(opened.escalations, 0);
        }
    }

    #[test]
    fn envelope_fields_keep_their_full_range() {
        for kind in [
            Kind::Samples,
            Kind::AlertEvent,
            Kind::LiveEvent,
            Kind::ConfigChange,
            Kind::Vitals,
        ] {
            let plain = encode_v2(kind, &envelope("x".to_string())).expect("encodes");
            let opened: Envelope<String> = decode_v2(kind, &plain).expect("decodes");
            assert_eq!(opened, envelope("x".to_string()), "{kind:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_the_expected_type_is_malformed() {
        let err = across::<_, Older>(Kind::AlertEvent, "just a string").expect_err("rejected");
        assert!(matches!(err, BusError::Rejected("malformed body")), "{err}");
        let err = decode_v2::<String>(Kind::AlertEvent, &[0; 39]).expect_err("too short");
        assert!(matches!(err, BusError::Rejected("malformed body")), "{err}");
    }

    fn patient() -> PatientId {
        PatientId::parse("p-17").expect("valid id")
    }

    fn alert_event() -> AlertEvent {
        let mut alert = Alert::firing(patient(), RuleKind::HrLow, Priority::Medium, 1_000);
        alert.value = 38.5;
        alert.limit = 40.0;
        alert.policy_version = 4;
        alert.snooze = Some(Box::new(AlertSnooze::replacing(
            None, 2_000, 9_000, "dr-1", "rounds",
        )));
        AlertEvent {
            kind: AlertEventKind::Fired,
            alert,
            sample_received_ns: Some(900),
        }
    }

    fn heart_rate(average_bpm: f32, instant_bpm: f32, rr_s: f64) -> LiveEvent {
        LiveEvent::HeartRate {
            patient: patient(),
            at_ns: 5_000,
            average_bpm,
            instant_bpm,
            rr_s,
        }
    }

    /// `value` with a field no release knows added to the object at `path`.
    fn with_unknown_field(mut value: Value, path: &[&str]) -> Value {
        let mut at = &mut value;
        for key in path {
            at = at.get_mut(*key).expect("path exists");
        }
        at.as_object_mut()
            .expect("an object")
            .insert("added_by_a_newer_release".into(), json!({"any": [1, "x"]}));
        value
    }

    /// Every body type the services pass to `publish`/`push` with a JSON kind, with an
    /// unknown field added at every struct level: a newer release's message.
    #[test]
    fn every_json_bus_message_opens_with_fields_it_does_not_know() {
        let event = alert_event();
        let json_event = serde_json::to_value(&event).expect("json");
        for path in [&[][..], &["alert"], &["alert", "snooze"]] {
            let newer = with_unknown_field(json_event.clone(), path);
            let opened: AlertEvent = across(Kind::AlertEvent, &newer).expect("opens");
            assert_eq!(opened, event, "unknown field at {path:?}");
        }

        let live = LiveEvent::Alert(event.clone());
        let json_live = serde_json::to_value(&live).expect("json");
        for path in [&["Alert"][..], &["Alert", "alert"]] {
            let newer = with_unknown_field(json_live.clone(), path);
            let opened: LiveEvent = across(Kind::LiveEvent, &newer).expect("opens");
            assert_eq!(opened, live, "unknown field at {path:?}");
        }

        let hr = heart_rate(72.5, 71.0, 0.845);
        let newer = with_unknown_field(serde_json::to_value(&hr).expect("json"), &["HeartRate"]);
        let opened: LiveEvent = across(Kind::LiveEvent, &newer).expect("opens");
        assert_eq!(opened, hr);

        let change = ConfigChange::Policy {
            patient: patient(),
            version: 7,
        };
        let newer = with_unknown_field(serde_json::to_value(&change).expect("json"), &["Policy"]);
        let opened: ConfigChange = across(Kind::ConfigChange, &newer).expect("opens");
        assert_eq!(opened, change);
    }

    /// An alert event from a release before `Alert.snooze` and `AlertSnooze.earlier_ns`.
    #[test]
    fn an_alert_event_without_the_newer_optional_fields_opens() {
        let event = alert_event();
        let mut older = serde_json::to_value(&event).expect("json");
        older["alert"]["snooze"]
            .as_object_mut()
            .expect("snooze object")
            .remove("earlier_ns");
        let opened: AlertEvent = across(Kind::AlertEvent, &older).expect("opens");
        assert_eq!(opened, event, "earlier_ns was 0 anyway");

        older["alert"]
            .as_object_mut()
            .expect("alert object")
            .remove("snooze");
        let opened: AlertEvent = across(Kind::AlertEvent, &older).expect("opens");
        assert_eq!(opened.alert.snooze, None);
        assert_eq!(opened.alert.value, event.alert.value);
    }

    /// JSON has no NaN or infinity (serde_json writes `null`): such a float must not turn
    /// an alert or a heart rate into a dropped message.
    #[test]
    fn non_finite_floats_arrive_as_nan_instead_of_dropping_the_message() {
        let mut event = alert_event();
        event.alert.value = f32::NAN;
        event.alert.limit = f32::INFINITY;
        let opened: AlertEvent = across(Kind::AlertEvent, &event).expect("opens");
        assert!(opened.alert.value.is_nan() && opened.alert.limit.is_nan());
        assert_eq!(opened.alert.id, event.alert.id);

        let opened: LiveEvent = across(
            Kind::LiveEvent,
            heart_rate(f32::NAN, f32::NEG_INFINITY, f64::INFINITY),
        )
        .expect("opens");
        let LiveEvent::HeartRate {
            average_bpm,
            instant_bpm,
            rr_s,
            ..
        } = opened
        else {
            panic!("a heart rate");
        };
        assert!(average_bpm.is_nan() && instant_bpm.is_nan() && rr_s.is_nan());
    }

    /// Version-1 writers (postcard) carry floats as floats: the `null`-as-NaN reading of
    /// JSON must not change how binary formats read them.
    #[test]
    fn version_1_alert_and_live_events_still_decode() {
        let event = alert_event();
        let plain = encode_v1(&envelope(event.clone())).expect("encodes");
        let opened: Envelope<AlertEvent> = decode_v1(&plain).expect("decodes");
        assert_eq!(opened.body, event);
        let hr = heart_rate(72.5, 71.0, 0.845);
        let plain = encode_v1(&envelope(hr.clone())).expect("encodes");
        let opened: Envelope<LiveEvent> = decode_v1(&plain).expect("decodes");
        assert_eq!(opened.body, hr);
    }

    fn known_samples() -> SamplesStored {
        SamplesStored {
            block: SampleBlock {
                patient: PatientId::parse("p1").expect("valid id"),
                device: DeviceId::parse("d1").expect("valid id"),
                seq: 300,
                start_ns: 1_764_000_000_000_000_000,
                rate_hz: 360,
                leads: 2,
                samples_uv: vec![0, -1, 1, 1200, -32768, 32767],
                lead_off: true,
            },
            received_ns: -2,
        }
    }

    /// Samples are postcard, which is positional: a changed `SamplesStored` or
    /// `SampleBlock` (a field added, removed, reordered or retyped — even with
    /// `#[serde(default)]`) would be misread by every other release. If this fails, the
    /// change needs a new kind or envelope version (see `crate::envelope`), not a new
    /// expected value here.
    #[test]
    fn samples_body_layout_is_frozen() {
        assert_eq!(Kind::Samples.encoding(), Encoding::Postcard);
        let env = Envelope {
            id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            publisher: 0x1112_1314_1516_1718,
            seq: 0x2122_2324_2526_2728,
            sent_ns: -1,
            body: known_samples(),
        };
        let plain = encode_v2(Kind::Samples, &env).expect("encodes");
        let expected = concat!(
            // envelope: id, publisher, seq, sent_ns (big-endian)
            "0102030405060708090a0b0c0d0e0f10",
            "1112131415161718",
            "2122232425262728",
            "ffffffffffffffff",
            // patient "p1", device "d1" (length-prefixed)
            "027031",
            "026431",
            // seq 300 (varint), start_ns (zigzag varint), rate_hz 360 (varint), leads 2
            "ac02",
            "8080d0fceca9fefa30",
            "e802",
            "02",
            // 6 samples (zigzag varints): 0, -1, 1, 1200, -32768, 32767
            "06",
            "00",
            "01",
            "02",
            "e012",
            "ffff03",
            "feff03",
            // lead_off true, received_ns -2 (zigzag)
            "01",
            "03",
        );
        assert_eq!(hex::encode(&plain), expected);
        let opened: Envelope<SamplesStored> = decode_v2(Kind::Samples, &plain).expect("decodes");
        assert_eq!(opened, env);
    }
}
