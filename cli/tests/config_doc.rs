//! docs/config.md is generated from the services' config types (`cardiowatch
//! config-doc`); this fails when a key, type or default changed and the doc was not
//! regenerated.

use std::path::Path;

#[test]
fn docs_config_md_is_what_the_config_types_say() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = cardiowatch::config_doc::render();
    assert!(
        current == generated,
        "docs/config.md drifted from the config types: run \
         `cargo run -p cardiowatch -- config-doc --write docs/config.md`"
    );
}

#[test]
fn the_reference_lists_keys_of_every_service_with_their_variables() {
    let doc = cardiowatch::config_doc::render();
    for row in [
        "| `storage.influx.url` |",
        "`CW_STORAGE__INFLUX__URL`",
        "| `auth.jwt_secret` | string, optional | none | `CW_AUTH__JWT_SECRET` |",
        "| `listen` | string | `\"0.0.0.0:8443\"` | `CW_LISTEN` |",
        "| `shards` | array of integer |",
        "| `twilio` | section, optional | absent (off) | `CW_TWILIO` |",
        "| `storage.backend` | one of `embedded`, `servers` |",
    ] {
        assert!(doc.contains(row), "{row} missing from:\n{doc}");
    }
    for service in ["cw-ingest", "cw-api", "cw-alert-engine", "cw-notifier"] {
        assert!(doc.contains(&format!("## {service} (")), "{service}");
    }
}
