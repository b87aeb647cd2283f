//! `docs/config.md`: every key of every service's config with its type, default and
//! `CW_*` variable, generated from the config types — keys and types by
//! [`crate::schema::keys`], defaults by serialising the type's `Default` — with
//! `cardiowatch config-doc --write`. `cli/tests/config_doc.rs` fails when the file
//! differs from what the types say.

use crate::schema::{Key, Kind, keys};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Write;

/// One service's config, ready to render.
pub struct ServiceConfig {
    /// e.g. `cw-ingest`
    pub binary: &'static str,
    /// e.g. `deploy/config/ingest.toml`
    pub sample_file: &'static str,
    keys: Vec<Key>,
    /// The serialised `Default`.
    defaults: toml::Value,
    /// What the type fills in for each optional section given empty (those absent by
    /// default), under the section's path.
    section_defaults: toml::Value,
    /// Keys an optional section cannot be given without.
    required: Vec<Vec<String>>,
}

impl ServiceConfig {
    pub fn of<T: DeserializeOwned + Serialize + Default>(
        binary: &'static str,
        sample_file: &'static str,
    ) -> Self {
        let keys = keys::<T>();
        let defaults = toml::Value::try_from(T::default())
            .unwrap_or_else(|_| toml::Value::Table(toml::Table::new()));
        // An optional section is absent by default; the defaults of its keys are what
        // the type fills in when the section is given empty (none when it has required
        // keys).
        let mut section_defaults = toml::Table::new();
        let mut required = Vec::new();
        for section in keys.iter().filter(|k| k.optional && k.kind == Kind::Table) {
            if lookup(&defaults, &section.path).is_some() {
                continue;
            }
            if let Some((filled, names)) = fill_section::<T>(&section.path) {
                insert(&mut section_defaults, &section.path, filled);
                required.extend(names);
            }
        }
        Self {
            binary,
            sample_file,
            keys,
            defaults,
            section_defaults: toml::Value::Table(section_defaults),
            required,
        }
    }
}

/// The section at `path` as `T` fills it in when it is given with only its required
/// string keys (each set to ""), and the paths of those required keys; `None` when a
/// required key is not a string.
fn fill_section<T: DeserializeOwned + Serialize>(
    path: &[String],
) -> Option<(toml::Value, Vec<Vec<String>>)> {
    let mut section = toml::Table::new();
    let mut required = Vec::new();
    // Each try names one more missing key; a section has a handful at most.
    for _ in 0..16 {
        let mut given = toml::Table::new();
        insert(&mut given, path, toml::Value::Table(section.clone()));
        match toml::Value::Table(given).try_into::<T>() {
            Ok(t) => {
                let filled = lookup(&toml::Value::try_from(t).ok()?, path).cloned()?;
                return Some((filled, required));
            }
            Err(e) => {
                let message = e.to_string();
                let (_, rest) = message.split_once("missing field `")?;
                let (name, _) = rest.split_once('`')?;
                if section.contains_key(name) {
                    return None;
                }
                section.insert(name.to_owned(), toml::Value::String(String::new()));
                let mut key = path.to_vec();
                key.push(name.to_owned());
                required.push(key);
            }
        }
    }
    None
}

fn lookup<'a>(value: &'a toml::Value, path: &[String]) -> Option<&'a toml::Value> {
    path.iter().try_fold(value, |v, part| v.get(part.as_str()))
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut table = table;
    for part in parents {
        let entry = table
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(next) = entry.as_table_mut() else {
            return;
        };
        table = next;
    }
    table.insert(last.clone(), value);
}

fn kind_text(keys: &[Key], key: &Key) -> String {
    let base = match &key.kind {
        Kind::Bool => "boolean".to_owned(),
        Kind::Integer => "integer".to_owned(),
        Kind::Float => "float".to_owned(),
        Kind::String => "string".to_owned(),
        Kind::Map => "table (any keys)".to_owned(),
        Kind::Table => "section".to_owned(),
        Kind::Other => "value".to_owned(),
        Kind::Enum(values) => format!(
            "one of {}",
            values
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::Array => {
            let mut element = key.path.clone();
            element.push("[]".into());
            match keys.iter().find(|k| k.path == element) {
                Some(e) if e.kind == Kind::Table => "array of sections".to_owned(),
                Some(e) => format!("array of {}", kind_text(keys, e)),
                None => "array".to_owned(),
            }
        }
    };
    if key.optional {
        format!("{base}, optional")
    } else {
        base
    }
}

fn default_text(service: &ServiceConfig, key: &Key) -> String {
    if key.path.iter().any(|p| p == "[]") {
        return "—".into();
    }
    if service.required.contains(&key.path) {
        return "required in its section".into();
    }
    let value = lookup(&service.defaults, &key.path)
        .or_else(|| lookup(&service.section_defaults, &key.path));
    if key.optional && key.kind == Kind::Table && lookup(&service.defaults, &key.path).is_none() {
        return "absent (off)".into();
    }
    match value {
        Some(toml::Value::Table(t)) if t.is_empty() => "`{}`".into(),
        Some(toml::Value::Table(_)) => "see its keys".into(),
        Some(value) => format!("`{}`", value.to_string().replace('|', "\\|")),
        None if key.optional => "none".into(),
        None => "—".into(),
    }
}

/// The whole `docs/config.md`.
pub fn markdown(services: &[ServiceConfig]) -> String {
    let mut out = String::new();
    out.push_str(
        "# Configuration reference\n\n\
         <!-- GENERATED by `cargo run -p cardiowatch -- config-doc --write` from the config types \
         (crates/config/src/reference.rs). Do not edit by hand: cli/tests/config_doc.rs fails when \
         it drifts. -->\n\n\
         Each service reads one TOML file (`--config FILE`, or `CW_CONFIG`); `deploy/config/*.toml` \
         are the deployment's files, with deploy values, not defaults. A key left out takes the \
         default below. Every key can be set from the environment instead: \
         `CW_<SECTION>__<KEY>` (double underscore walks into sections; a string key takes the \
         value as it is, other values are read as TOML literals — numbers, booleans, arrays \
         like `[\"a\",\"b\"]` — and as strings otherwise), \
         and the environment wins over the file. An unknown key in the file, or in a section \
         from the environment, stops the service at start with its name; a `CW_*` variable that \
         names no key of the service is a start-up warning naming it. Variables that are not \
         config: `CW_CONFIG`, `CW_LOG_FORMAT` (`json` for JSON log lines), and the `cardiowatch` \
         command's `CW_DEVICE_TOKEN`, `CW_PASSWORD` (or `CW_PASSWORD_FILE`) and `CW_DATA_DIR`, and the test harness's \
         `CW_BIN_DIR`, `CW_TOOLS_DIR` and `CW_TEST_*`.\n\n\
         The `cardiowatch` subcommands that open stores (`device`, `user`, `audit`, `keys`, \
         `fatigue`, `backtest`, `store encrypt`) follow one rule: `--config FILE` (or `CW_CONFIG`) reads that \
         service file, as a service would; without it, the embedded store of `--data-dir DIR` \
         (or `CW_DATA_DIR`, default `.cw-data`: `DIR/cardiowatch.sqlite` with the store, audit \
         and PHI keys `cardiowatch demo --data-dir DIR` keeps there). `CW_*` variables apply on top \
         either way.\n\n\
         Every key can also be read from a file: `CW_<SECTION>__<KEY>_FILE=/path` sets the key \
         to the file's content (one trailing newline dropped), e.g. \
         `CW_STORAGE__INFLUX__PASSWORD_FILE=/run/secrets/influx_password`; giving both \
         `CW_<KEY>` and `CW_<KEY>_FILE` is an error, and so is a file that cannot be read. \
         Secrets (keys, passwords, tokens) have no default and print as `<redacted>`: give them \
         this way (compose and Kubernetes `secrets:`), by environment variable, or by their \
         `*_file` key where the table below lists one (docs/security.md).\n",
    );
    for service in services {
        let _ = write!(
            out,
            "\n## {} (`{}`)\n\n| key | type | default | environment variable |\n|---|---|---|---|\n",
            service.binary, service.sample_file
        );
        for key in &service.keys {
            // An array's element row is folded into the array's type; a section row
            // says only whether it is optional, so keep those that are.
            let element = key.path.last().is_some_and(|p| p == "[]");
            let plain_section = key.kind == Kind::Table && !key.optional;
            if element || plain_section {
                continue;
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                key.dotted(),
                kind_text(&service.keys, key),
                default_text(service, key),
                key.env_var()
                    .map(|v| format!("`{v}`"))
                    .unwrap_or_else(|| "—".into()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Twilio {
        account: String,
        #[serde(default = "ten_s")]
        timeout_ms: u64,
        #[serde(default)]
        token: Option<String>,
    }

    fn ten_s() -> u64 {
        10_000
    }

    #[derive(Deserialize, Serialize)]
    #[serde(default)]
    struct Cfg {
        listen: String,
        shards: Vec<u16>,
        twilio: Option<Twilio>,
    }

    impl Default for Cfg {
        fn default() -> Self {
            Self {
                listen: "0.0.0.0:8443".into(),
                shards: vec![0, 1],
                twilio: None,
            }
        }
    }

    #[test]
    fn each_key_gets_its_type_default_and_variable() {
        let doc = markdown(&[ServiceConfig::of::<Cfg>(
            "cw-test",
            "deploy/config/test.toml",
        )]);
        for row in [
            "| `listen` | string | `\"0.0.0.0:8443\"` | `CW_LISTEN` |",
            "| `shards` | array of integer | `[0, 1]` | `CW_SHARDS` |",
            "| `twilio` | section, optional | absent (off) | `CW_TWILIO` |",
            "| `twilio.timeout_ms` | integer | `10000` | `CW_TWILIO__TIMEOUT_MS` |",
            "| `twilio.account` | string | required in its section | `CW_TWILIO__ACCOUNT` |",
            "| `twilio.token` | string, optional | none | `CW_TWILIO__TOKEN` |",
        ] {
            assert!(doc.contains(row), "missing {row} in:\n{doc}");
        }
    }
}
