//! One TOML file per service plus environment overrides.
//!
//! Each component owns the struct of its own section (storage, bus, TLS, …) with serde
//! defaults, so a missing file or key means "use the documented default". An environment
//! variable `CW_<SECTION>__<KEY>` overrides key `<section>.<key>` (double underscore walks
//! into tables; names are lower-cased): `CW_STORAGE__BACKEND=servers`,
//! `CW_STORAGE__INFLUX__URL=http://influx:8086`. The value of a string key is taken as
//! it is; others are read as TOML literals when they parse (numbers, booleans, arrays)
//! and as strings otherwise.
//!
//! Every key also has a file variant, `CW_<SECTION>__<KEY>_FILE=/path`: the key's value
//! is the file's content (one trailing newline dropped). That is how compose and
//! Kubernetes `secrets:` reach a service without the secret sitting in its environment
//! (`docker inspect` shows the environment, not the files): e.g.
//! `CW_STORAGE__INFLUX__PASSWORD_FILE=/run/secrets/influx_password`. A variable that
//! names a key of its own (`CW_BUS__KEY_FILE`, `storage.audit.checkpoint_file`) keeps
//! meaning that key.

mod known_keys;
pub mod reference;
pub mod schema;

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment override {var} cannot apply: {reason}")]
    Env { var: String, reason: String },
    /// The file of a `CW_*_FILE` variable cannot be read. Names the variable and path,
    /// never the content.
    #[error("{var}: cannot read {path}: {source}")]
    ValueFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(Box<toml::de::Error>),
    #[error("config file {path}: unknown key `{key}` (known: {known})")]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
}

/// Reads `path` (if given) and applies every `CW_*` variable of the process environment.
pub fn load<T: DeserializeOwned>(path: Option<&Path>) -> Result<T, ConfigError> {
    load_with_env(path, std::env::vars())
}

/// As [`load`], with the environment passed in (tests don't touch the process env).
pub fn load_with_env<T: DeserializeOwned>(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut root = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let table = text
                .parse::<toml::Table>()
                .map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?;
            refuse_unknown_top_level_keys::<T>(path, &table)?;
            table
        }
        None => toml::Table::new(),
    };
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(var, _)| var.starts_with("CW_"))
        .collect();
    let keys = schema::keys::<T>();
    for (var, value) in &env {
        let key = &var["CW_".len()..];
        match file_variant_of(&keys, var) {
            Some(plain) => {
                if env.iter().any(|(other, _)| *other == plain) {
                    return Err(ConfigError::Env {
                        var: var.clone(),
                        reason: format!("{plain} is set too; give one of them"),
                    });
                }
                let path = PathBuf::from(value);
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::ValueFile {
                        var: var.clone(),
                        path: path.clone(),
                        source,
                    })?;
                let text = text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text);
                let target = &plain["CW_".len()..];
                let literal = match key_kind(&keys, target) {
                    // A secret is taken verbatim: hex made only of digits stays a string.
                    Some(schema::Kind::String | schema::Kind::Other) | None => {
                        toml::Value::String(text.to_owned())
                    }
                    Some(_) => parse_literal(text),
                };
                insert_override(&mut root, var, target, literal)?;
            }
            None => {
                // A string key takes the text as it is: a phone number like
                // `+15005550006` or an all-digit hex key must not turn into a number.
                let literal = match key_kind(&keys, key) {
                    Some(schema::Kind::String) => toml::Value::String(value.clone()),
                    _ => parse_literal(value),
                };
                insert_override(&mut root, var, key, literal)?;
            }
        }
    }
    toml::Value::Table(root)
        .try_into()
        .map_err(|e| ConfigError::Invalid(Box::new(e)))
}

/// `CW_*` variables that are not config keys of any service: read by the service runner,
/// the logger, the `cardiowatch` command or the test harness (which also owns every
/// `CW_TEST_*`). docs/config.md lists them.
pub const NOT_CONFIG_VARS: &[&str] = &[
    "CW_CONFIG",
    "CW_LOG_FORMAT",
    "CW_DEVICE_TOKEN",
    "CW_PASSWORD",
    "CW_PASSWORD_FILE",
    "CW_DATA_DIR",
    "CW_BIN_DIR",
    "CW_TOOLS_DIR",
];

/// The `CW_*` variables among `vars` that name no key of `T` (misspelt, or meant for
/// another service): a section with `deny_unknown_fields` refuses them at load, but one
/// at the top level or in a map would be silently ignored. Services log each at start
/// (`cw_runtime::run_service`).
pub fn unknown_env_vars<T: DeserializeOwned>(
    vars: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let keys = schema::keys::<T>();
    vars.into_iter()
        .filter(|var| {
            var.starts_with("CW_")
                && !var.starts_with("CW_TEST_")
                && !NOT_CONFIG_VARS.contains(&var.as_str())
        })
        .filter(|var| !names_a_key(&keys, &env_path(var)) && file_variant_of(&keys, var).is_none())
        .collect()
}

/// `CW_STORAGE__INFLUX__URL` → `["storage", "influx", "url"]`.
fn env_path(var: &str) -> Vec<String> {
    var.strip_prefix("CW_")
        .unwrap_or(var)
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Whether `path` is a key of the config (or lies below a map, where any name is a key;
/// a whole section or array may be set as one TOML literal).
fn names_a_key(keys: &[schema::Key], path: &[String]) -> bool {
    (1..=path.len()).any(|n| {
        keys.iter()
            .any(|k| k.path == path[..n] && (n == path.len() || k.kind == schema::Kind::Map))
    })
}

/// For `CW_<KEY>_FILE` where `<KEY>_FILE` is no key but `<KEY>` is: `CW_<KEY>`.
fn file_variant_of(keys: &[schema::Key], var: &str) -> Option<String> {
    let plain = var.strip_suffix("_FILE")?;
    (!names_a_key(keys, &env_path(var)) && names_a_key(keys, &env_path(plain)))
        .then(|| plain.to_owned())
}

/// The kind of the key `CW_` + `key` names, if it is one exactly.
fn key_kind(keys: &[schema::Key], key: &str) -> Option<schema::Kind> {
    let path = env_path(key);
    keys.iter().find(|k| k.path == path).map(|k| k.kind.clone())
}

/// A misspelt top-level key would otherwise be ignored and its default used.
fn refuse_unknown_top_level_keys<T: DeserializeOwned>(
    path: &Path,
    table: &toml::Table,
) -> Result<(), ConfigError> {
    let Some(known) = known_keys::struct_fields::<T>() else {
        return Ok(());
    };
    match table.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(ConfigError::UnknownKey {
            path: path.to_owned(),
            key: key.clone(),
            known: known.join(", "),
        }),
        None => Ok(()),
    }
}

fn insert_override(
    root: &mut toml::Table,
    var: &str,
    key: &str,
    value: toml::Value,
) -> Result<(), ConfigError> {
    let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut table = root;
    for part in parents {
        let entry = table
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
            var: var.to_owned(),
            reason: format!("`{part}` is not a table"),
        })?;
    }
    table.insert(last.clone(), value);
    Ok(())
}

/// `8080` → integer, `true` → bool, `["a","b"]` → array, anything else → string.
fn parse_literal(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        url: String,
        port: u16,
    }

    impl Default for Inner {
        fn default() -> Self {
            Self {
                url: "http://default".into(),
                port: 1,
            }
        }
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Cfg {
        name: String,
        inner: Inner,
        shards: Vec<u16>,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn missing_file_and_env_give_defaults() {
        let cfg: Cfg = load_with_env(None, env(&[])).expect("loads");
        assert_eq!(cfg, Cfg::default());
    }

    #[test]
    fn env_overrides_nested_keys_with_typed_values() {
        let cfg: Cfg = load_with_env(
            None,
            env(&[
                ("CW_INNER__PORT", "8086"),
                ("CW_INNER__URL", "http://influx:8086"),
                ("CW_SHARDS", "[1, 2]"),
                ("HOME", "/root"),
            ]),
        )
        .expect("loads");
        assert_eq!(cfg.inner.port, 8086);
        assert_eq!(cfg.inner.url, "http://influx:8086");
        assert_eq!(cfg.shards, vec![1, 2]);
    }

    #[test]
    fn a_string_key_keeps_text_that_looks_like_a_number() {
        let cfg: Cfg =
            load_with_env(None, env(&[("CW_INNER__URL", "+15005550006")])).expect("loads");
        assert_eq!(cfg.inner.url, "+15005550006");
    }

    #[test]
    fn file_values_are_overridden_by_env() {
        let dir = std::env::temp_dir().join(format!("cw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("svc.toml");
        std::fs::write(&path, "name = \"from-file\"\n[inner]\nport = 5\n").expect("write");
        let cfg: Cfg = load_with_env(Some(&path), env(&[("CW_NAME", "from-env")])).expect("loads");
        assert_eq!(cfg.name, "from-env");
        assert_eq!(cfg.inner.port, 5);
    }

    #[test]
    fn a_misspelt_top_level_key_in_the_file_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("cw-config-typo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("svc.toml");
        std::fs::write(&path, "nmae = \"typo\"\n").expect("write");
        let err = load_with_env::<Cfg>(Some(&path), env(&[])).expect_err("refused");
        assert!(err.to_string().contains("unknown key `nmae`"), "{err}");
        // Variables of other tools stay harmless: only the file is checked.
        std::fs::write(&path, "name = \"ok\"\n").expect("write");
        let cfg: Cfg =
            load_with_env(Some(&path), env(&[("CW_LOG_FORMAT", "json")])).expect("loads");
        assert_eq!(cfg.name, "ok");
    }

    #[test]
    fn a_misspelt_cw_variable_is_named_and_real_keys_and_other_tools_vars_are_not() {
        let vars = [
            "CW_INNER__PORT",
            "CW_INNER__PROT",
            "CW_NMAE",
            "CW_SHARDS",
            "CW_LOG_FORMAT",
            "CW_TEST_INFLUX_URL",
            "HOME",
        ]
        .map(String::from);
        assert_eq!(
            unknown_env_vars::<Cfg>(vars),
            vec!["CW_INNER__PROT".to_owned(), "CW_NMAE".to_owned()]
        );
    }

    #[test]
    fn a_file_variable_gives_a_key_the_files_content() {
        let dir = tempfile_dir("file-var");
        let secret = dir.join("url");
        // As `docker secret` files often are: one trailing newline.
        std::fs::write(&secret, "0123\n").expect("write");
        let port = dir.join("port");
        std::fs::write(&port, "8086\n").expect("write");
        let cfg: Cfg = load_with_env(
            None,
            env(&[
                ("CW_INNER__URL_FILE", secret.to_str().expect("utf-8 path")),
                ("CW_INNER__PORT_FILE", port.to_str().expect("utf-8 path")),
            ]),
        )
        .expect("loads");
        assert_eq!(
            cfg.inner.url, "0123",
            "a string key stays a string, verbatim"
        );
        assert_eq!(cfg.inner.port, 8086);
        assert!(
            unknown_env_vars::<Cfg>(["CW_INNER__URL_FILE".to_owned()]).is_empty(),
            "a file variable is no unknown variable"
        );
    }

    #[test]
    fn an_unreadable_or_doubly_given_file_variable_is_a_clear_error() {
        let err = load_with_env::<Cfg>(
            None,
            env(&[("CW_INNER__URL_FILE", "/nonexistent/cw-secret")]),
        )
        .expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("CW_INNER__URL_FILE") && text.contains("/nonexistent/cw-secret"),
            "{text}"
        );
        let dir = tempfile_dir("file-var-twice");
        let secret = dir.join("url");
        std::fs::write(&secret, "x").expect("write");
        let err = load_with_env::<Cfg>(
            None,
            env(&[
                ("CW_INNER__URL", "y"),
                ("CW_INNER__URL_FILE", secret.to_str().expect("utf-8 path")),
            ]),
        )
        .expect_err("refused");
        assert!(
            err.to_string().contains("CW_INNER__URL is set too"),
            "{err}"
        );
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cw-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn wrong_type_is_a_clear_error() {
        let err = load_with_env::<Cfg>(None, env(&[("CW_INNER__PORT", "not-a-port")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("invalid configuration"), "{err}");
    }
}
