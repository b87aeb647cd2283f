//! The embedded file is encrypted at rest (docs/operations.md, "Encryption at rest"):
//! none of what was stored is readable in its bytes, the key opens it again, and no key,
//! a wrong key or a clear file from before encryption is a start-up error that says what
//! to do.

use crate::fixtures::{T0, alert, block, device_id, doctor, patient};
use cw_core::RuleKind;
use cw_storage::{RetentionConfig, StorageConfig, StoreError};
use std::path::Path;

fn config(dir: &Path) -> StorageConfig {
    StorageConfig {
        path: dir.join("cardiowatch.sqlite"),
        key_hex: crate::backends::store_key(),
        // The fixtures' fixed past times would be swept by a raw window.
        retention: RetentionConfig {
            raw_days: 0,
            ..RetentionConfig::default()
        },
        ..StorageConfig::default()
    }
}

/// The file and its WAL / SHM companions, concatenated.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(&name) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn nothing_stored_is_readable_in_the_file_and_only_its_key_opens_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path());
    let stores = cw_storage::open(&cfg).await.expect("open");
    let dr = doctor();
    let p = patient(&[&dr.id]);
    let b = block(&p.id, &device_id(), 1, T0, 250, 2, 2500);
    stores.records.put_user(&dr).await.expect("user");
    stores.records.put_patient(&p).await.expect("patient");
    stores
        .samples
        .write(std::slice::from_ref(&b))
        .await
        .expect("write samples");
    stores
        .records
        .open_alert(&alert(&p.id, RuleKind::HrHigh, T0))
        .await
        .expect("alert");
    // What was written is there (read back through the key)…
    assert_eq!(
        stores
            .samples
            .count_frames(&p.id, T0, b.end_ns())
            .await
            .expect("count"),
        2500
    );
    // …while the store is still open (the WAL holds the newest pages), and after.
    let samples: Vec<u8> = b.samples_uv[..32]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let device = device_id();
    let needles: [(&str, &[u8]); 6] = [
        ("the samples", &samples),
        ("the patient id", p.id.as_str().as_bytes()),
        ("the device id", device.as_str().as_bytes()),
        ("the doctor's phone", b"+33600000000"),
        ("the doctor's email", b"dr@example.org"),
        ("the schema", b"CREATE TABLE"),
    ];
    let open_bytes = file_bytes(&cfg.path);
    assert!(open_bytes.len() > 4096, "the store wrote nothing?");
    drop(stores);
    let closed_bytes = file_bytes(&cfg.path);
    for bytes in [&open_bytes, &closed_bytes] {
        for (what, needle) in needles {
            assert!(!contains(bytes, needle), "{what} is readable in the file");
        }
        assert!(
            !contains(bytes, b"SQLite format 3"),
            "the file has a clear SQLite header"
        );
    }

    // The key opens it again, with everything in it.
    let again = cw_storage::open(&cfg).await.expect("reopen with the key");
    assert_eq!(
        again
            .samples
            .count_frames(&p.id, T0, b.end_ns())
            .await
            .expect("count"),
        2500
    );
    drop(again);

    // No key, a wrong key, a missing key file: each says what and where.
    let none = StorageConfig {
        key_hex: None,
        ..cfg.clone()
    };
    let err = start_error(&none).await;
    assert!(err.contains("no key is configured"), "{err}");
    assert!(err.contains("CW_STORAGE__KEY_FILE"), "{err}");
    let wrong_file = dir.path().join("other.key");
    std::fs::write(&wrong_file, "ab".repeat(32)).expect("write key");
    let wrong = StorageConfig {
        key_hex: None,
        key_file: Some(wrong_file.clone()),
        ..cfg.clone()
    };
    let err = start_error(&wrong).await;
    assert!(err.contains("cannot be decrypted"), "{err}");
    assert!(err.contains(&wrong_file.display().to_string()), "{err}");
    assert!(!err.contains("file is not a database"), "{err}");
    let missing = StorageConfig {
        key_hex: None,
        key_file: Some(dir.path().join("gone.key")),
        ..cfg.clone()
    };
    let err = start_error(&missing).await;
    assert!(err.contains("gone.key"), "{err}");
}

async fn start_error(cfg: &StorageConfig) -> String {
    match cw_storage::open(cfg).await {
        Ok(_) => panic!("opened {} with {:?}", cfg.path.display(), cfg.key_file),
        Err(e) => e.to_string(),
    }
}

/// A store from before encryption is refused with the command that encrypts it; the
/// command keeps every row and leaves no clear text behind.
#[tokio::test]
async fn a_clear_store_is_refused_until_encrypted_and_keeps_its_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path());
    let doc = r#"{"marker":"clear-store-row-7f3a"}"#;
    {
        let clear = rusqlite::Connection::open(&cfg.path).expect("clear file");
        clear
            .execute_batch(
                "PRAGMA journal_mode = WAL; \
                 CREATE TABLE patients (id TEXT PRIMARY KEY, doc TEXT NOT NULL);",
            )
            .expect("schema");
        clear
            .execute("INSERT INTO patients VALUES ('p-1', ?1)", [doc])
            .expect("row");
    }
    assert!(contains(&file_bytes(&cfg.path), b"clear-store-row-7f3a"));

    let err = start_error(&cfg).await;
    assert!(err.contains("before encryption"), "{err}");
    assert!(err.contains(cw_storage::sqlite::ENCRYPT_COMMAND), "{err}");

    let key = cfg.store_key().expect("key");
    let tables = cw_storage::sqlite::encrypt_clear(&cfg.path, &key)
        .await
        .expect("encrypt");
    assert_eq!(tables, 1);
    assert!(!contains(&file_bytes(&cfg.path), b"clear-store-row-7f3a"));
    assert!(
        matches!(
            cw_storage::sqlite::encrypt_clear(&cfg.path, &key).await,
            Err(StoreError::Conflict(_))
        ),
        "encrypting twice must refuse"
    );

    drop(
        cw_storage::open(&cfg)
            .await
            .expect("open the encrypted store"),
    );
    let conn = cw_storage::sqlite::connect(&cfg).expect("keyed connection");
    let kept: String = conn
        .query_row("SELECT doc FROM patients WHERE id = 'p-1'", [], |r| {
            r.get(0)
        })
        .expect("the row survived");
    assert_eq!(kept, doc);
}
