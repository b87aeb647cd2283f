//! `docker-compose.yml` as compose reads it: `${…}` interpolation from the operator's
//! environment (`.env`), then each service's command, environment, mounts, secrets,
//! ports, dependencies and healthcheck. Only the parts of the compose specification our
//! file uses; anything else it meets is an error, never silently skipped.

use super::ComposeError;
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// One service after interpolation.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub image: String,
    /// Built from the repository's Dockerfile (our binaries), not a third-party image.
    pub built: bool,
    pub command: Vec<String>,
    pub environment: Vec<(String, String)>,
    /// Short-syntax `SOURCE:TARGET[:MODE]` entries.
    pub volumes: Vec<(String, String)>,
    pub secrets: Vec<String>,
    /// Container ports published on the host.
    pub ports: Vec<u16>,
    pub expose: Vec<u16>,
    pub depends_on: Vec<(String, String)>,
    pub healthcheck: Option<Healthcheck>,
    pub profiles: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Healthcheck {
    /// The command after `CMD`.
    pub command: Vec<String>,
    pub timeout: Duration,
    /// How long compose waits at most before it calls the service unhealthy:
    /// start_period + interval × retries.
    pub give_up_after: Duration,
}

/// The compose file with the operator's environment applied.
pub struct ComposeFile {
    pub services: BTreeMap<String, ServiceSpec>,
    /// Secret name → file (relative to the project directory).
    pub secrets: BTreeMap<String, String>,
}

impl ComposeFile {
    pub fn parse(text: &str, env: &BTreeMap<String, String>) -> Result<Self, ComposeError> {
        let raw: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| ComposeError::Invalid(format!("not YAML: {e}")))?;
        let root = interpolate_tree(&raw, env, "")?;
        let mut services = BTreeMap::new();
        for (name, value) in mapping(&root["services"], "services")? {
            let name = text_of(name, "a service name")?;
            services.insert(name.clone(), service(&name, value)?);
        }
        let mut secrets = BTreeMap::new();
        if !root["secrets"].is_null() {
            for (name, value) in mapping(&root["secrets"], "secrets")? {
                let name = text_of(name, "a secret name")?;
                let file = value["file"].as_str().ok_or_else(|| {
                    ComposeError::Invalid(format!(
                        "secret `{name}` has no `file` (only file secrets are supported)"
                    ))
                })?;
                secrets.insert(name, file.to_owned());
            }
        }
        Ok(Self { services, secrets })
    }
}

fn service(name: &str, value: &Value) -> Result<ServiceSpec, ComposeError> {
    let at = |key: &str| format!("services.{name}.{key}");
    let healthcheck = match strings(&value["healthcheck"]["test"], &at("healthcheck.test"))? {
        test if test.is_empty() => None,
        test if test[0] == "CMD" => Some(Healthcheck {
            command: test[1..].to_vec(),
            timeout: duration(&value["healthcheck"]["timeout"], 30)?,
            give_up_after: duration(&value["healthcheck"]["start_period"], 0)?
                + duration(&value["healthcheck"]["interval"], 30)?
                    * u32::try_from(value["healthcheck"]["retries"].as_u64().unwrap_or(3))
                        .unwrap_or(3),
        }),
        // CMD-SHELL and NONE: only the third-party images use them here, and those the
        // harness replaces by its own servers.
        _ => None,
    };
    Ok(ServiceSpec {
        name: name.to_owned(),
        image: value["image"].as_str().unwrap_or_default().to_owned(),
        built: !value["build"].is_null(),
        command: strings(&value["command"], &at("command"))?,
        environment: environment(&value["environment"], &at("environment"))?,
        volumes: strings(&value["volumes"], &at("volumes"))?
            .into_iter()
            .map(|entry| {
                let mut parts = entry.split(':');
                match (parts.next(), parts.next()) {
                    (Some(source), Some(target)) => Ok((source.to_owned(), target.to_owned())),
                    _ => Err(ComposeError::Invalid(format!(
                        "{}: `{entry}` is not SOURCE:TARGET",
                        at("volumes")
                    ))),
                }
            })
            .collect::<Result<_, _>>()?,
        secrets: strings(&value["secrets"], &at("secrets"))?,
        ports: strings(&value["ports"], &at("ports"))?
            .iter()
            .map(|entry| port(entry.rsplit(':').next().unwrap_or(entry), &at("ports")))
            .collect::<Result<_, _>>()?,
        expose: strings(&value["expose"], &at("expose"))?
            .iter()
            .map(|entry| port(entry, &at("expose")))
            .collect::<Result<_, _>>()?,
        depends_on: match &value["depends_on"] {
            Value::Mapping(map) => map
                .iter()
                .map(|(dep, how)| {
                    Ok((
                        text_of(dep, "a dependency")?,
                        how["condition"]
                            .as_str()
                            .unwrap_or("service_started")
                            .to_owned(),
                    ))
                })
                .collect::<Result<_, ComposeError>>()?,
            other => strings(other, &at("depends_on"))?
                .into_iter()
                .map(|dep| (dep, "service_started".to_owned()))
                .collect(),
        },
        healthcheck,
        profiles: strings(&value["profiles"], &at("profiles"))?,
    })
}

fn port(entry: &str, at: &str) -> Result<u16, ComposeError> {
    entry
        .split('/')
        .next()
        .unwrap_or(entry)
        .parse()
        .map_err(|e| ComposeError::Invalid(format!("{at}: `{entry}` is not a port: {e}")))
}

/// `5s`, `1m30s`, `500ms`; absent: `default_s`.
fn duration(value: &Value, default_s: u64) -> Result<Duration, ComposeError> {
    let Some(text) = value.as_str() else {
        return Ok(Duration::from_secs(default_s));
    };
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .map_err(|_| ComposeError::Invalid(format!("duration `{text}`")))?;
        number.clear();
        total += match c {
            'h' => Duration::from_secs(n * 3600),
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                Duration::from_millis(n)
            }
            'm' => Duration::from_secs(n * 60),
            's' => Duration::from_secs(n),
            _ => return Err(ComposeError::Invalid(format!("duration `{text}`"))),
        };
    }
    if !number.is_empty() {
        return Err(ComposeError::Invalid(format!(
            "duration `{text}` lacks a unit"
        )));
    }
    Ok(total)
}

fn mapping<'a>(value: &'a Value, at: &str) -> Result<&'a Mapping, ComposeError> {
    value
        .as_mapping()
        .ok_or_else(|| ComposeError::Invalid(format!("`{at}` is not a mapping")))
}

fn text_of(value: &Value, what: &str) -> Result<String, ComposeError> {
    scalar(value).ok_or_else(|| ComposeError::Invalid(format!("{what} is not a string")))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of scalars, or one string (split on whitespace, as compose splits `command`).
fn strings(value: &Value, at: &str) -> Result<Vec<String>, ComposeError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                scalar(item).ok_or_else(|| {
                    ComposeError::Invalid(format!("`{at}` holds a non-scalar entry {item:?}"))
                })
            })
            .collect(),
        Value::String(s) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        other => Err(ComposeError::Invalid(format!(
            "`{at}` is not a list: {other:?}"
        ))),
    }
}

/// `environment` as a mapping or a `KEY=value` list. A key without a value takes the
/// variable from the shell running compose: here, it is left out.
fn environment(value: &Value, at: &str) -> Result<Vec<(String, String)>, ComposeError> {
    match value {
        Value::Mapping(map) => Ok(map
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
            .collect()),
        other => Ok(strings(other, at)?
            .into_iter()
            .filter_map(|entry| {
                entry
                    .split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect()),
    }
}

/// Every string of the tree interpolated; `at` names where, for errors.
fn interpolate_tree(
    value: &Value,
    env: &BTreeMap<String, String>,
    at: &str,
) -> Result<Value, ComposeError> {
    Ok(match value {
        Value::String(s) => {
            Value::String(
                interpolate(s, env).map_err(|message| ComposeError::Interpolation {
                    at: at.trim_start_matches('.').to_owned(),
                    message,
                })?,
            )
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|item| interpolate_tree(item, env, at))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(map) => {
            let mut out = Mapping::new();
            for (k, v) in map {
                let key = scalar(k).unwrap_or_default();
                out.insert(k.clone(), interpolate_tree(v, env, &format!("{at}.{key}"))?);
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    })
}

/// Compose's interpolation: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`,
/// `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`. An unset `${NAME}` is empty.
pub fn interpolate(text: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
            out.push_str(&expand(&body[..end], env)?);
            rest = &body[end + 1..];
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push_str(env.get(&name).map_or("", String::as_str));
            rest = &after[name.len()..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn expand(expression: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let name_len = expression
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let (name, modifier) = expression.split_at(name_len);
    let value = env.get(name);
    let set_non_empty = value.is_some_and(|v| !v.is_empty());
    let pick = |use_value: bool, alternative: &str| {
        if use_value {
            value.cloned().unwrap_or_default()
        } else {
            alternative.to_owned()
        }
    };
    Ok(match modifier {
        "" => value.cloned().unwrap_or_default(),
        m if m.starts_with(":-") => pick(set_non_empty, &m[2..]),
        m if m.starts_with('-') => pick(value.is_some(), &m[1..]),
        m if m.starts_with(":?") => {
            if !set_non_empty {
                return Err(format!(
                    "required variable {name} is missing a value: {}",
                    &m[2..]
                ));
            }
            pick(true, "")
        }
        m if m.starts_with('?') => {
            if value.is_none() {
                return Err(format!(
                    "required variable {name} is missing a value: {}",
                    &m[1..]
                ));
            }
            pick(true, "")
        }
        m => return Err(format!("unsupported interpolation `${{{name}{m}}}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_follows_compose() {
        let env: BTreeMap<String, String> = [("SET", "v"), ("EMPTY", "")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let ok = |t: &str| interpolate(t, &env).expect(t);
        assert_eq!(ok("a${SET}b"), "avb");
        assert_eq!(ok("$SET/$$SET"), "v/$SET");
        assert_eq!(ok("${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}"), "d|d|");
        let err = interpolate("${EMPTY:?set EMPTY in .env}", &env).expect_err("required");
        assert!(
            err.contains("EMPTY") && err.contains("set EMPTY in .env"),
            "{err}"
        );
        assert_eq!(ok("${EMPTY?x}"), "");
    }

    #[test]
    fn durations_add_up() {
        let d = |t: &str| duration(&Value::String(t.into()), 0).expect(t);
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("500ms"), Duration::from_millis(500));
    }
}
