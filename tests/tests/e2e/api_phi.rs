//! PHI at rest: what the api stores holds no plaintext PHI — neither in the raw MongoDB
//! documents nor anywhere in the SQLite file — while doctors read it back in clear, MRN
//! lookups work by keyed hash, and `cardiowatch keys rotate` re-wraps under a new key.

use cw_core::Role;
use cw_core::secret::ExposeSecret;
use cw_e2e::api::ApiHarness;
use cw_e2e::system::Mode;
use futures::TryStreamExt;
use serde_json::{Value, json};

const NAME: &str = "Zebulon Quartermaine";
const MRN: &str = "MRN-998877";
const DOB: &str = "1941-03-07";
const CONTACT: &str = "+15550001111";

/// Creates the test patient (as admin) and reads it back (as its doctor, by id and by
/// MRN); returns its id.
async fn create_and_read(h: &ApiHarness) -> String {
    let admin = h.token(&h.admin, Role::Admin);
    let created = h
        .http
        .post(h.url("/v1/patients"))
        .bearer_auth(&admin)
        .json(&json!({
            "name": NAME, "date_of_birth": DOB, "mrn": MRN, "contact": CONTACT,
            "doctors": [h.doctor_a.as_str()]
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();

    let doctor = h.token(&h.doctor_a, Role::Doctor);
    let read: Value = h
        .http
        .get(h.url(&format!("/v1/patients/{id}")))
        .bearer_auth(&doctor)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(read["name"], NAME);
    assert_eq!(read["mrn"], MRN);
    assert_eq!(read["date_of_birth"], DOB);
    assert_eq!(read["contact"], CONTACT);
    let found: Value = h
        .http
        .post(h.url("/v1/patients/lookup"))
        .bearer_auth(&doctor)
        .json(&json!({"mrn": " mrn-998877"}))
        .send()
        .await
        .expect("lookup")
        .json()
        .await
        .expect("json");
    assert_eq!(found["id"], id.as_str());

    let again = h
        .http
        .post(h.url("/v1/patients"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Someone Else", "date_of_birth": DOB, "mrn": MRN}))
        .send()
        .await
        .expect("create");
    assert_eq!(again.status(), 409, "one patient per MRN");
    id
}

fn assert_no_phi(haystack: &str, whence: &str) {
    for secret in [NAME, "Zebulon", "Quartermaine", MRN, "998877", DOB, CONTACT] {
        assert!(
            !haystack.contains(secret),
            "{whence} holds plaintext PHI {secret:?}"
        );
    }
}

#[tokio::test]
async fn raw_mongodb_documents_hold_no_plaintext_phi() {
    let h = ApiHarness::start(Mode::Servers).await;
    create_and_read(&h).await;
    let client = mongodb::Client::with_uri_str(h.storage.mongo.uri.expose_secret())
        .await
        .expect("raw client");
    let db = client.database(&h.storage.mongo.database);
    let mut seen = 0;
    for name in db.list_collection_names().await.expect("collections") {
        let docs: Vec<mongodb::bson::Document> = db
            .collection(&name)
            .find(mongodb::bson::doc! {})
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("docs");
        for doc in docs {
            seen += 1;
            assert_no_phi(&doc.to_string(), &format!("collection {name}"));
        }
    }
    assert!(seen > 3, "the patient, audit events and more were read");
    client.shutdown().await;
}

/// The embedded file is encrypted (docs/operations.md, "Encryption at rest"): beside the
/// PHI fields the api seals itself, the patient's id and ECG — stored as the store's own
/// rows — are in no byte of the file, its WAL or SHM; the key opens it again, and
/// without the key it does not open.
#[tokio::test]
async fn the_sqlite_file_holds_no_plaintext_phi() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let id = create_and_read(&h).await;
    let patient = cw_core::PatientId::parse(&id).expect("the api made a valid id");
    let samples_uv: Vec<i16> = (0..2_500)
        .map(|i| ((i * 37) % 4_001 - 2_000) as i16)
        .collect();
    let start = cw_e2e::env::recent_second() * cw_core::time::NANOS_PER_SEC;
    let block = cw_core::SampleBlock {
        patient: patient.clone(),
        device: cw_core::DeviceId::random(),
        seq: 1,
        start_ns: start,
        rate_hz: 250,
        leads: 1,
        samples_uv: samples_uv.clone(),
        lead_off: false,
    };
    h.stores
        .samples
        .write(std::slice::from_ref(&block))
        .await
        .expect("ECG stored");
    assert_eq!(
        h.stores
            .samples
            .count_frames(&patient, start, block.end_ns())
            .await
            .expect("count"),
        2_500,
        "the ECG is there for whoever has the key"
    );
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", h.storage.path.display());
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 4096, "the file was read");
    assert_no_phi(&String::from_utf8_lossy(&bytes), "the SQLite file");
    let ecg: Vec<u8> = samples_uv[100..132]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    for (what, needle) in [
        ("the patient id", id.as_bytes()),
        ("the ECG samples", ecg.as_slice()),
        ("a clear SQLite header", b"SQLite format 3".as_slice()),
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the SQLite file holds {what} in clear"
        );
    }

    drop(
        cw_storage::open(&h.storage)
            .await
            .expect("the key opens it again"),
    );
    let keyless = cw_storage::StorageConfig {
        key_hex: None,
        ..h.storage.clone()
    };
    let refused = cw_storage::open(&keyless)
        .await
        .err()
        .expect("no key, no store")
        .to_string();
    assert!(refused.contains("CW_STORAGE__KEY_FILE"), "{refused}");
}

#[tokio::test]
async fn keys_rotate_rewraps_every_record_so_the_old_key_can_be_dropped() {
    let h = ApiHarness::start(Mode::Embedded).await;
    let id = create_and_read(&h).await;
    let old_key = h.phi.master_key_hex.clone().expect("old key");
    let old_key = old_key.expose_secret();
    let new_key = cw_bus::Sealer::generate_key_hex();
    let lookup = h.phi.lookup_key_hex.clone().expect("lookup key");
    let lookup = lookup.expose_secret();
    let config = h.dir.path().join("api.toml");
    let write = |previous: &str| {
        std::fs::write(
            &config,
            format!(
                "{}[phi]\nkey_id = \"k2\"\nmaster_key_hex = \"{new_key}\"\n\
                 lookup_key_hex = \"{lookup}\"\nprevious_keys = [{previous}]\n",
                cw_e2e::env::embedded_store_toml(&h.storage)
            ),
        )
        .expect("config written");
    };
    write(&format!("\"k1:{old_key}\""));
    let first = cardiowatch::keys::rotate(&cardiowatch::store_args::StoreArgs::file(&config))
        .await
        .expect("rotate");
    // The harness' two patients and the one created here.
    assert_eq!(first.rewrapped, 3);
    let second = cardiowatch::keys::rotate(&cardiowatch::store_args::StoreArgs::file(&config))
        .await
        .expect("rotate again");
    assert_eq!((second.rewrapped, second.current), (0, 3));

    // Without the old key the record still opens: it is wrapped under k2 now.
    write("");
    let cfg: cw_api::ApiConfig = cw_config::load(Some(&config)).expect("config");
    let vault = cw_phi::PhiVault::from_config(&cfg.phi).expect("vault");
    let patient_id = cw_core::PatientId::parse(&id).expect("id");
    let stored = h
        .stores
        .records
        .patient(&patient_id)
        .await
        .expect("patient");
    let sealed = stored.phi.expect("sealed PHI");
    assert_eq!(sealed.key_id, "k2");
    let phi = vault
        .open(&patient_id, &sealed)
        .await
        .expect("opens with k2");
    assert_eq!(phi.name, NAME);
}
