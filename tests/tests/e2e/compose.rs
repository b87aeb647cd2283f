//! Static checks of the Docker deployment: `docker-compose.yml`, `Dockerfile`,
//! `.dockerignore` and `deploy/config/*.toml` against each other and against the
//! services' own config structs. No docker engine is needed (none exists in CI); what
//! these tests cannot see — images building, containers starting, healthchecks passing —
//! is listed in deploy/README.md's bring-up steps.

use cw_core::secret::ExposeSecret;
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The cardiowatch services in compose: service name, binary, config file, the port its
/// HTTPS listener uses (published to the host or not), and the ports it binds that stay
/// inside the compose network (bus, and the admin listener of a service that also has a
/// public one).
struct Service {
    name: &'static str,
    binary: &'static str,
    config: &'static str,
    https_port: u16,
    published: bool,
    internal_ports: &'static [u16],
}

const SERVICES: [Service; 4] = [
    Service {
        name: "ingest",
        binary: "cw-ingest",
        config: "ingest.toml",
        https_port: 8443,
        published: true,
        internal_ports: &[5550, 9101],
    },
    Service {
        name: "api",
        binary: "cw-api",
        config: "api.toml",
        https_port: 8444,
        published: true,
        internal_ports: &[5570, 9104],
    },
    Service {
        name: "alert-engine",
        binary: "cw-alert-engine",
        config: "alert-engine.toml",
        https_port: 9102,
        published: false,
        internal_ports: &[5560, 5580],
    },
    Service {
        name: "notifier",
        binary: "cw-notifier",
        config: "notifier.toml",
        https_port: 9103,
        published: false,
        internal_ports: &[],
    },
];

const CONFIG_DIR_IN_CONTAINER: &str = "/etc/cardiowatch";
const CERT_DIR_IN_CONTAINER: &str = "/etc/cardiowatch/certs";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_owned()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn compose_text() -> String {
    read("docker-compose.yml")
}

fn compose() -> Value {
    serde_yaml_ng::from_str(&compose_text()).expect("docker-compose.yml is valid YAML")
}

fn services(compose: &Value) -> &Mapping {
    compose["services"]
        .as_mapping()
        .expect("docker-compose.yml has a `services` mapping")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    services(compose)
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service `{name}`"))
}

fn name_of(key: &Value) -> &str {
    key.as_str().expect("service names are strings")
}

/// A compose list of strings (`command`, `ports`, `expose`, …) or a single string.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => panic!("expected a string or number in a list, got {other:?}"),
            })
            .collect(),
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Number(n) => vec![n.to_string()],
        other => panic!("expected a list of strings, got {other:?}"),
    }
}

/// `environment` in mapping or list (`KEY=value`) form.
fn environment(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Null => Vec::new(),
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => serde_yaml_ng::to_string(other).expect("scalar prints"),
                };
                (name_of(k).to_owned(), value)
            })
            .collect(),
        Value::Sequence(_) => strings(&service["environment"])
            .into_iter()
            .map(|entry| match entry.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (entry, String::new()),
            })
            .collect(),
        other => panic!("environment must be a mapping or a list, got {other:?}"),
    }
}

/// Container-side port of a `ports` entry (`"8443:8443"`, `"127.0.0.1:8443:8443/tcp"`,
/// or the long syntax with `target`).
fn container_port(entry: &Value) -> u16 {
    let text = match entry {
        Value::Mapping(map) => {
            let target = map
                .get("target")
                .expect("long-syntax ports entries name a target");
            return target
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .expect("target is a port number");
        }
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("unexpected ports entry {other:?}"),
    };
    let last = text.rsplit(':').next().expect("split yields one part");
    let port = last.split('/').next().expect("split yields one part");
    port.parse()
        .unwrap_or_else(|e| panic!("ports entry `{text}`: {e}"))
}

fn published_ports(service: &Value) -> BTreeSet<u16> {
    match &service["ports"] {
        Value::Null => BTreeSet::new(),
        Value::Sequence(entries) => entries.iter().map(container_port).collect(),
        other => panic!("ports must be a list, got {other:?}"),
    }
}

fn exposed_ports(service: &Value) -> BTreeSet<u16> {
    strings(&service["expose"])
        .iter()
        .map(|p| {
            p.split('/')
                .next()
                .expect("split yields one part")
                .parse::<u16>()
                .unwrap_or_else(|e| panic!("expose entry `{p}`: {e}"))
        })
        .collect()
}

fn port_of(address: &str) -> u16 {
    let port = address
        .rsplit(':')
        .next()
        .expect("split yields one part")
        .trim_end_matches('/');
    port.parse()
        .unwrap_or_else(|e| panic!("no port in `{address}`: {e}"))
}

fn host_of(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().expect("split yields one part");
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// `(host path, container path)` of each short-syntax bind mount of a service.
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    strings(&service["volumes"])
        .iter()
        .filter_map(|entry| {
            let mut parts = entry.split(':');
            let source = parts.next()?;
            let target = parts.next()?;
            source
                .starts_with('.')
                .then(|| (source.to_owned(), target.to_owned()))
        })
        .collect()
}

fn config_path(file: &str) -> PathBuf {
    root().join("deploy/config").join(file)
}

/// Loads `deploy/config/<file>` into the service's own struct, exactly as its binary does,
/// with only the non-secret settings compose takes from `.env` for that service (the
/// Twilio account and number of the notifier) and a placeholder for its secret files.
macro_rules! load {
    ($ty:ty, $file:expr) => {{
        let file: &str = $file;
        let env: Vec<(String, String)> = if file == "notifier.toml" {
            [
                ("CW_TWILIO__ACCOUNT_SID", "AC-placeholder"),
                ("CW_TWILIO__FROM_NUMBER", "+15005550006"),
                ("CW_TWILIO__AUTH_TOKEN", "placeholder"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec()
        } else {
            Vec::new()
        };
        cw_config::load_with_env::<$ty>(Some(&config_path(file)), env)
            .unwrap_or_else(|e| panic!("deploy/config/{file} does not load: {e}"))
    }};
}

fn deploy_configs() -> (
    cw_ingest::IngestConfig,
    cw_api::ApiConfig,
    cw_alert_engine::AlertEngineConfig,
    cw_notifier::NotifierConfig,
) {
    (
        load!(cw_ingest::IngestConfig, "ingest.toml"),
        load!(cw_api::ApiConfig, "api.toml"),
        load!(cw_alert_engine::AlertEngineConfig, "alert-engine.toml"),
        load!(cw_notifier::NotifierConfig, "notifier.toml"),
    )
}

/// Listener and bus-binding ports of one service, as its config says.
fn config_ports(name: &str, from_deploy: bool) -> (u16, Vec<u16>) {
    let (ingest, api, engine, notifier) = if from_deploy {
        deploy_configs()
    } else {
        (
            cw_ingest::IngestConfig::default(),
            cw_api::ApiConfig::default(),
            cw_alert_engine::AlertEngineConfig::default(),
            cw_notifier::NotifierConfig::default(),
        )
    };
    match name {
        "ingest" => (
            port_of(&ingest.listen),
            vec![
                port_of(&ingest.publish_endpoint),
                port_of(&ingest.admin_listen),
            ],
        ),
        "api" => (
            port_of(&api.listen),
            vec![
                port_of(&api.config_publish_endpoint),
                port_of(&api.admin_listen),
            ],
        ),
        "alert-engine" => (
            port_of(&engine.admin_listen),
            vec![
                port_of(&engine.alert_push_endpoint),
                port_of(&engine.live_publish_endpoint),
            ],
        ),
        "notifier" => (port_of(&notifier.admin_listen), Vec::new()),
        other => panic!("unknown service {other}"),
    }
}

/// Services that are meant to exit (one-shot clients): `restart: "no"`.
fn is_one_shot(service: &Value) -> bool {
    service["restart"].as_str() == Some("no")
}

#[test]
fn every_service_has_an_image_or_a_build() {
    let compose = compose();
    assert!(!services(&compose).is_empty(), "compose defines no service");
    for (name, service) in services(&compose) {
        let has_image = service["image"].as_str().is_some_and(|s| !s.is_empty());
        let has_build = !service["build"].is_null();
        assert!(
            has_image || has_build,
            "service `{}` has neither image nor build",
            name_of(name)
        );
    }
}

#[test]
fn cardiowatch_services_are_built_from_the_one_dockerfile() {
    let compose = compose();
    let mut images = BTreeSet::new();
    for svc in SERVICES.iter().map(|s| s.name).chain(["gateway-sim"]) {
        let service = service(&compose, svc);
        assert_eq!(
            service["build"].as_str(),
            Some("."),
            "`{svc}` builds the root Dockerfile"
        );
        images.insert(service["image"].as_str().map(str::to_owned));
    }
    assert_eq!(images.len(), 1, "one image for all of them: {images:?}");
}

#[test]
fn every_long_running_service_has_a_healthcheck() {
    let compose = compose();
    let mut checked = 0;
    for (name, service) in services(&compose) {
        if is_one_shot(service) {
            continue;
        }
        let test = strings(&service["healthcheck"]["test"]);
        assert!(
            !test.is_empty() && test[0] != "NONE",
            "long-running service `{}` has no healthcheck",
            name_of(name)
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "mongodb, influxdb and the four services at least"
    );
}

#[test]
fn healthchecks_ask_readyz_over_https_on_each_services_own_port() {
    let compose = compose();
    for svc in &SERVICES {
        let test = strings(&service(&compose, svc.name)["healthcheck"]["test"]);
        let joined = test.join(" ");
        // The image's own client, verifying the certificate against the mounted CA.
        assert!(
            test.starts_with(&["CMD".into(), "cardiowatch".into(), "health".into()])
                && joined.contains("--ca /etc/cardiowatch/certs/ca.pem"),
            "`{}` healthcheck runs `cardiowatch health --ca …`: {joined}",
            svc.name
        );
        // Readiness, not liveness: `depends_on: service_healthy` must wait until the
        // service's stores answer (docs/architecture.md, "Health").
        let url = format!("https://localhost:{}/readyz", svc.https_port);
        assert!(
            test.iter().any(|arg| arg == &url),
            "`{}` healthcheck must hit {url}: {joined}",
            svc.name
        );
    }
    let influx = strings(&service(&compose, "influxdb")["healthcheck"]["test"]).join(" ");
    assert!(influx.contains("/ping"), "influxdb healthcheck: {influx}");
    let mongo = strings(&service(&compose, "mongodb")["healthcheck"]["test"]).join(" ");
    assert!(
        mongo.contains("rs.initiate") && mongo.contains("rs.status"),
        "the mongodb healthcheck initiates the replica set only when it has none: {mongo}"
    );
}

#[test]
fn service_ports_match_the_config_defaults_and_the_deploy_configs() {
    let compose = compose();
    for svc in &SERVICES {
        let expected = (svc.https_port, svc.internal_ports.to_vec());
        assert_eq!(
            config_ports(svc.name, false),
            expected,
            "`{}`: the struct defaults moved; update compose and this test",
            svc.name
        );
        assert_eq!(
            config_ports(svc.name, true),
            expected,
            "`{}`: deploy/config/{} listens elsewhere than the defaults",
            svc.name,
            svc.config
        );

        let service = service(&compose, svc.name);
        let published = published_ports(service);
        let exposed = exposed_ports(service);
        let expected_published: BTreeSet<u16> = svc
            .published
            .then_some(svc.https_port)
            .into_iter()
            .collect();
        assert_eq!(
            published, expected_published,
            "`{}` publishes exactly its HTTPS port, or nothing for admin-only listeners",
            svc.name
        );
        let mut all: BTreeSet<u16> = published.union(&exposed).copied().collect();
        all.retain(|p| *p != 0);
        let expected_all: BTreeSet<u16> = std::iter::once(svc.https_port)
            .chain(svc.internal_ports.iter().copied())
            .collect();
        assert_eq!(
            all, expected_all,
            "`{}` ports + expose must be its listener, bus and admin ports",
            svc.name
        );
        for internal in svc.internal_ports {
            assert!(
                !published.contains(internal),
                "`{}` must keep port {internal} inside the compose network",
                svc.name
            );
        }
    }
}

#[test]
fn bus_endpoints_connect_to_the_compose_services_that_bind_them() {
    let compose = compose();
    let (ingest, api, engine, notifier) = deploy_configs();
    let links = [
        (&engine.sample_endpoints, "ingest", &ingest.publish_endpoint),
        (
            &engine.config_endpoints,
            "api",
            &api.config_publish_endpoint,
        ),
        (
            &notifier.alert_endpoints,
            "alert-engine",
            &engine.alert_push_endpoint,
        ),
    ];
    for (endpoints, binder, bound) in links {
        assert_eq!(
            endpoints,
            &vec![format!("tcp://{binder}:{}", port_of(bound))],
            "connect to `{binder}` by its compose name on the port it binds ({bound})"
        );
        for endpoint in endpoints {
            let host = host_of(endpoint);
            assert!(
                services(&compose).contains_key(host),
                "{endpoint}: `{host}` is not a compose service"
            );
        }
        assert_eq!(
            host_of(bound),
            "0.0.0.0",
            "{binder} binds on all interfaces in its container"
        );
    }
    // No pin: the compose engine leases all 64 shards itself (docs/architecture.md,
    // "Shards"), and a second engine added to the stack takes its share without an edit.
    assert!(
        engine.shards.is_empty(),
        "the compose engine pins no shards: it leases them (got {:?})",
        engine.shards
    );
}

#[test]
fn deploy_configs_deserialize_into_the_service_config_structs() {
    use cw_storage::Backend;
    let (ingest, api, engine, notifier) = deploy_configs();
    let stores = [
        ("ingest", &ingest.storage),
        ("api", &api.storage),
        ("alert-engine", &engine.storage),
        ("notifier", &notifier.storage),
    ];
    for (name, storage) in stores {
        assert_eq!(storage.backend, Backend::Servers, "{name}: servers backend");
        assert_eq!(storage.influx.url, "http://influxdb:8086", "{name}");
        assert_eq!(
            storage.mongo.uri.expose_secret(),
            "mongodb://mongodb:27017/?replicaSet=rs0&tls=true&tlsCAFile=/etc/cardiowatch/certs/ca.pem",
            "{name}"
        );
        assert!(
            storage.influx.password.is_none() && storage.influx.token.is_none(),
            "{name}: InfluxDB credentials come from the environment"
        );
    }
    // The appenders sign checkpoints onto the volume compose mounts for them, with one key id.
    for (name, storage) in [
        ("ingest", &ingest.storage),
        ("api", &api.storage),
        ("notifier", &notifier.storage),
    ] {
        let file = storage.audit.checkpoint_file.as_deref();
        assert!(
            file.is_some_and(|f| f.starts_with("/var/lib/cardiowatch/audit/")),
            "{name}: audit checkpoints on the audit-checkpoints volume, got {file:?}"
        );
        assert_eq!(storage.audit.key_id, api.storage.audit.key_id, "{name}");
    }
    let listeners = [
        ("ingest", &ingest.tls),
        ("api", &api.tls),
        ("alert-engine", &engine.admin_tls),
        ("notifier", &notifier.admin_tls),
    ];
    for (name, tls) in listeners {
        assert!(!tls.insecure_plaintext, "{name}: TLS stays on");
        assert!(
            tls.cert_path.starts_with(CERT_DIR_IN_CONTAINER)
                && tls.key_path.starts_with(CERT_DIR_IN_CONTAINER),
            "{name}: certificates come from the mounted {CERT_DIR_IN_CONTAINER}"
        );
    }
    let keys = [
        ingest.bus.key_id,
        api.bus.key_id,
        engine.bus.key_id,
        notifier.bus.key_id,
    ];
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one bus key id everywhere: {keys:?}"
    );
    assert!(api.auth.jwt_secret.is_none(), "the JWT secret is env-only");
    // Paging needs Twilio: on, at Twilio itself; the account comes from .env, the token
    // from a secret file. Email stays off until ops configure SES.
    let twilio = notifier.twilio.as_ref().expect("[twilio] is on");
    assert_eq!(twilio.base_url, "https://api.twilio.com");
    assert!(notifier.ses.is_none(), "SES is off until ops configure it");
}

#[test]
fn deploy_configs_hold_no_secret_keys() {
    fn walk(file: &str, prefix: &str, table: &toml::Table) {
        const SECRET_KEYS: [&str; 7] = [
            "key_hex",
            "previous_keys",
            "jwt_secret",
            "password",
            "token",
            "auth_token",
            "secret_access_key",
        ];
        for (key, value) in table {
            let path = format!("{prefix}{key}");
            assert!(
                !SECRET_KEYS.contains(&key.as_str()),
                "deploy/config/{file} sets secret `{path}`: use the environment"
            );
            if let toml::Value::Table(inner) = value {
                walk(file, &format!("{path}."), inner);
            }
        }
    }
    for svc in &SERVICES {
        let text = read(&format!("deploy/config/{}", svc.config));
        let table: toml::Table = text.parse().expect("deploy config is TOML");
        walk(svc.config, "", &table);
    }
    let (ingest, api, engine, notifier) = deploy_configs();
    for uri in [
        &ingest.storage.mongo.uri,
        &api.storage.mongo.uri,
        &engine.storage.mongo.uri,
        &notifier.storage.mongo.uri,
    ] {
        let uri = uri.expose_secret();
        assert!(
            !uri.contains('@'),
            "no credentials in the MongoDB URI (use CW_STORAGE__MONGO__URI): {uri}"
        );
    }
}

#[test]
fn each_service_command_runs_its_binary_with_a_config_file_from_deploy_config() {
    let compose = compose();
    for svc in &SERVICES {
        let service = service(&compose, svc.name);
        let command = strings(&service["command"]);
        assert_eq!(
            command.first().map(String::as_str),
            Some(svc.binary),
            "`{}` runs {}",
            svc.name,
            svc.binary
        );
        let at = command
            .iter()
            .position(|arg| arg == "--config")
            .unwrap_or_else(|| panic!("`{}` command has no --config: {command:?}", svc.name));
        let in_container = command
            .get(at + 1)
            .unwrap_or_else(|| panic!("`{}`: --config without a path", svc.name));
        assert_eq!(
            in_container,
            &format!("{CONFIG_DIR_IN_CONTAINER}/{}", svc.config),
            "`{}` config path",
            svc.name
        );
        let mounts = bind_mounts(service);
        let (source, _) = mounts
            .iter()
            .find(|(_, target)| target == in_container)
            .unwrap_or_else(|| {
                panic!(
                    "`{}`: nothing is mounted at {in_container}: {mounts:?}",
                    svc.name
                )
            });
        assert_eq!(
            source,
            &format!("./deploy/config/{}", svc.config),
            "`{}` mounts its own deploy config",
            svc.name
        );
        assert!(
            root().join(source).is_file(),
            "{source} does not exist in the repository"
        );
        assert!(
            mounts
                .iter()
                .any(|(src, target)| src == "./deploy/certs" && target == CERT_DIR_IN_CONTAINER),
            "`{}` mounts ./deploy/certs at {CERT_DIR_IN_CONTAINER}",
            svc.name
        );
    }
}

/// Every `${NAME…}` in the compose file (a `$${` is an escaped dollar, not a variable).
fn interpolated_variables(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let escaped = at > 0 && rest.as_bytes()[at - 1] == b'$';
        let after = &rest[at + 2..];
        if !escaped {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
        rest = after;
    }
    names
}

/// Every string (keys and values) of a YAML document: what compose interpolates.
/// Comments are not part of it, and compose does not interpolate them.
fn all_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|v| all_strings(v, out)),
        Value::Mapping(map) => {
            for (k, v) in map {
                all_strings(k, out);
                all_strings(v, out);
            }
        }
        Value::Tagged(tagged) => all_strings(&tagged.value, out),
        _ => {}
    }
}

#[test]
fn every_variable_compose_reads_is_a_cw_variable_documented_in_the_deploy_readme() {
    let readme = read("deploy/README.md");
    let example = read("deploy/env.example");
    let mut strings_in_compose = Vec::new();
    all_strings(&compose(), &mut strings_in_compose);
    let names: BTreeSet<String> = strings_in_compose
        .iter()
        .flat_map(|s| interpolated_variables(s))
        .collect();
    for secret in [
        "CW_BUS__KEY_HEX",
        "CW_AUTH__JWT_SECRET",
        "CW_STORAGE__INFLUX__PASSWORD",
    ] {
        assert!(
            !names.contains(secret),
            "{secret} is a secret file now, not an environment value"
        );
    }
    for name in &names {
        assert!(
            name.starts_with("CW_"),
            "`${{{name}}}` is not a CW_ variable"
        );
        assert!(
            readme.contains(&format!("`{name}`")),
            "`{name}` is not documented in deploy/README.md"
        );
        assert!(
            example
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{name}="))),
            "`{name}` is missing from deploy/env.example"
        );
    }
    for line in example.lines() {
        if let Some((name, value)) = line.split_once('=')
            && !line.trim_start().starts_with('#')
        {
            assert!(
                value.trim().is_empty(),
                "deploy/env.example must not carry a value for {name}"
            );
        }
    }
}

fn looks_secret(name: &str) -> bool {
    [
        "KEY_HEX",
        "SECRET",
        "PASSWORD",
        "TOKEN",
        "ACCESS_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| name.to_ascii_uppercase().contains(word))
}

/// `${NAME}`, `${NAME:?msg}`, `${NAME:-}` … and nothing around it.
fn is_single_interpolation(value: &str) -> bool {
    value.starts_with("${") && value.ends_with('}') && value[2..].find("${").is_none()
}

#[test]
fn compose_holds_no_literal_secret_values() {
    let compose = compose();
    for (name, service) in services(&compose) {
        for (key, value) in environment(service) {
            if key.ends_with("_FILE") {
                assert!(
                    value.starts_with("/run/secrets/"),
                    "service `{}`: {key} must name a mounted secret, got {value}",
                    name_of(name)
                );
            } else if looks_secret(&key) {
                assert!(
                    is_single_interpolation(&value),
                    "service `{}` sets {key} to a literal; use \"${{{key}:?…}}\"",
                    name_of(name)
                );
            }
        }
    }
    // No key material anywhere in the file, not even in a comment.
    let text = compose_text();
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run < 32, "docker-compose.yml contains a long hex string");
    }
}

/// The `CW_*_FILE` variables of a service that read `/run/secrets/NAME`: (variable, NAME).
fn secret_file_vars(service: &Value) -> Vec<(String, String)> {
    environment(service)
        .into_iter()
        .filter_map(|(k, v)| {
            let name = v.strip_prefix("/run/secrets/")?.to_owned();
            Some((k.strip_suffix("_FILE")?.to_owned(), name))
        })
        .collect()
}

#[test]
fn required_secrets_are_mounted_secret_files() {
    let compose = compose();
    let defined = compose["secrets"]
        .as_mapping()
        .expect("docker-compose.yml has top-level `secrets:`");
    for (name, secret) in defined {
        let file = secret["file"].as_str().unwrap_or_default();
        assert!(
            file.starts_with("./deploy/secrets/"),
            "secret `{}` is a file in deploy/secrets (git-ignored): {file}",
            name_of(name)
        );
    }
    for (name, service) in services(&compose) {
        let mounted = strings(&service["secrets"]);
        for (var, secret) in secret_file_vars(service) {
            assert!(
                mounted.contains(&secret),
                "service `{}`: {var}_FILE reads secret `{secret}`, which it does not mount",
                name_of(name)
            );
            assert!(
                defined.contains_key(secret.as_str()),
                "secret `{secret}` is not defined under `secrets:`"
            );
        }
    }
    let reads = |name: &str, var: &str| {
        secret_file_vars(service(&compose, name))
            .iter()
            .any(|(v, _)| v == var)
    };
    for svc in &SERVICES {
        for var in ["CW_BUS__KEY_HEX", "CW_STORAGE__INFLUX__PASSWORD"] {
            assert!(
                reads(svc.name, var),
                "`{}` reads {var} from a secret file",
                svc.name
            );
        }
    }
    // Every service that appends audit events refuses to start without the audit key.
    for name in ["ingest", "api", "notifier"] {
        assert!(
            reads(name, "CW_STORAGE__AUDIT__KEY_HEX"),
            "`{name}` reads the audit key"
        );
    }
    // Without a PHI master key the patient endpoints answer 503, so a stack without
    // them cannot register a single patient.
    for var in [
        "CW_AUTH__JWT_SECRET",
        "CW_PHI__MASTER_KEY_HEX",
        "CW_PHI__LOOKUP_KEY_HEX",
    ] {
        assert!(reads("api", var), "the api reads {var} from a secret file");
    }
    assert!(reads("notifier", "CW_TWILIO__AUTH_TOKEN"));
}

#[test]
fn services_wait_for_healthy_dependencies() {
    let compose = compose();
    for (name, service) in services(&compose) {
        let Some(depends) = service["depends_on"].as_mapping() else {
            assert!(
                service["depends_on"].is_null(),
                "`{}` depends_on must use the long form with a condition",
                name_of(name)
            );
            continue;
        };
        for (dependency, spec) in depends {
            let dependency = name_of(dependency);
            // A one-shot dependency (`mongodb-users`) is waited for to end well.
            if is_one_shot(&compose["services"][dependency]) {
                assert_eq!(
                    spec["condition"].as_str(),
                    Some("service_completed_successfully"),
                    "`{}` waits for the one-shot `{dependency}` to succeed",
                    name_of(name)
                );
                continue;
            }
            assert_eq!(
                spec["condition"].as_str(),
                Some("service_healthy"),
                "`{}` waits for `{dependency}` to be healthy",
                name_of(name)
            );
            assert!(
                !service_healthcheck_missing(&compose, dependency),
                "`{dependency}` has no healthcheck to wait for"
            );
        }
    }
    for svc in &SERVICES {
        let depends = service(&compose, svc.name)["depends_on"]
            .as_mapping()
            .unwrap_or_else(|| panic!("`{}` has no depends_on", svc.name));
        for store in ["mongodb", "influxdb", "mongodb-users"] {
            assert!(
                depends.contains_key(store),
                "`{}` waits for {store}",
                svc.name
            );
        }
    }
}

/// Each service signs in to MongoDB as its own user of `cardiowatch mongo-users`, with the
/// password from its own secret file, over TLS; MongoDB itself runs with auth (keyfile)
/// and TLS only, and `mongodb-users` provisions every account from its password file.
#[test]
fn each_service_signs_in_to_mongodb_as_its_own_user_over_tls() {
    use cw_storage::mongo::accounts::ACCOUNTS;
    let compose = compose();
    let (ingest, api, engine, notifier) = deploy_configs();
    let mut users = BTreeSet::new();
    for (svc, key, storage) in [
        ("ingest", "ingest", &ingest.storage),
        ("api", "api", &api.storage),
        ("alert-engine", "alert_engine", &engine.storage),
        ("notifier", "notifier", &notifier.storage),
    ] {
        let account = ACCOUNTS
            .iter()
            .find(|a| a.key == key)
            .unwrap_or_else(|| panic!("no MongoDB account for {svc}"));
        assert_eq!(
            storage.mongo.username.as_deref(),
            Some(account.user),
            "`{svc}` signs in as its own user"
        );
        users.insert(account.user);
        let uri = storage.mongo.uri.expose_secret();
        assert!(
            uri.contains("tls=true")
                && uri.contains(&format!("tlsCAFile={CERT_DIR_IN_CONTAINER}/")),
            "`{svc}` reaches MongoDB over TLS, trusting the mounted CA: {uri}"
        );
        let secret = format!("mongo_password_{key}");
        assert!(
            secret_file_vars(service(&compose, svc))
                .contains(&("CW_STORAGE__MONGO__PASSWORD".to_owned(), secret.clone())),
            "`{svc}` reads its MongoDB password from the secret {secret}"
        );
    }
    assert_eq!(users.len(), 4, "four services, four users");

    let provisioner = service(&compose, "mongodb-users");
    assert!(is_one_shot(provisioner));
    let mounted = strings(&provisioner["secrets"]);
    for account in ACCOUNTS {
        let secret = format!("mongo_password_{}", account.key);
        assert!(
            mounted.contains(&secret),
            "mongodb-users reads {secret} for {}",
            account.user
        );
    }
    let mongo = service(&compose, "mongodb");
    let command = strings(&mongo["command"]);
    let arg = |flag: &str| {
        command
            .iter()
            .position(|a| a == flag)
            .and_then(|at| command.get(at + 1))
            .cloned()
            .unwrap_or_else(|| panic!("mongod runs without {flag}: {command:?}"))
    };
    assert_eq!(arg("--tlsMode"), "requireTLS");
    assert!(arg("--keyFile").starts_with('/'));
    assert!(strings(&mongo["secrets"]).contains(&"mongo_keyfile".to_owned()));
}

fn service_healthcheck_missing(compose: &Value, name: &str) -> bool {
    strings(&service(compose, name)["healthcheck"]["test"]).is_empty()
}

#[test]
fn databases_match_what_the_configs_expect() {
    let compose = compose();
    let mongo = service(&compose, "mongodb");
    assert!(
        mongo["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("mongo:7")),
        "MongoDB 7"
    );
    let command = strings(&mongo["command"]);
    let at = command
        .iter()
        .position(|a| a == "--replSet")
        .expect("mongod runs with --replSet");
    assert_eq!(command.get(at + 1).map(String::as_str), Some("rs0"));
    let check = strings(&mongo["healthcheck"]["test"]).join(" ");
    assert!(
        check.contains("host: 'mongodb:27017'"),
        "the replica set member is the name the services connect to: {check}"
    );

    let influx = service(&compose, "influxdb");
    // 1.11 is the maintained 1.x OSS line; 1.8 gets no fixes. A tag, not `1` or
    // `latest`, so an upgrade is a reviewed edit (and `influxdb:latest` is 2.x).
    assert_eq!(
        influx["image"].as_str(),
        Some("influxdb:1.11"),
        "InfluxDB pinned to the maintained 1.11 line"
    );
    let env = environment(influx);
    let get = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("influxdb has no {key}"))
    };
    let (ingest, ..) = deploy_configs();
    assert_eq!(get("INFLUXDB_DB"), ingest.storage.influx.database);
    assert_eq!(
        Some(get("INFLUXDB_USER")),
        ingest.storage.influx.username,
        "the services log in as the user influxdb creates"
    );
    assert!(get("INFLUXDB_USER_PASSWORD").starts_with("${CW_INFLUXDB_USER_PASSWORD:?"));
    for store in ["mongodb", "influxdb"] {
        assert!(
            published_ports(service(&compose, store)).is_empty(),
            "{store} is not published on the host"
        );
        assert!(
            strings(&service(&compose, store)["volumes"])
                .iter()
                .any(|v| !v.starts_with('.') && !v.starts_with('/')),
            "{store} keeps its data in a named volume"
        );
    }
}

#[test]
fn gateway_sim_streams_record_100_from_the_image_to_ingest() {
    let compose = compose();
    let sim = service(&compose, "gateway-sim");
    assert_eq!(strings(&sim["profiles"]), vec!["demo".to_owned()]);
    assert!(is_one_shot(sim), "the simulator is a one-shot client");
    let command = strings(&sim["command"]);
    assert_eq!(
        command.get(..2),
        Some(&["cardiowatch".to_owned(), "gateway".to_owned()][..])
    );
    let arg = |flag: &str| {
        command
            .iter()
            .position(|a| a == flag)
            .and_then(|at| command.get(at + 1))
            .unwrap_or_else(|| panic!("gateway-sim passes {flag}: {command:?}"))
            .clone()
    };
    assert_eq!(arg("--record"), "/usr/share/cardiowatch/testdata/mitdb/100");
    let url = arg("--url");
    let (ingest, ..) = deploy_configs();
    assert_eq!(
        url,
        format!("wss://ingest:{}/v1/stream", port_of(&ingest.listen))
    );
    assert!(arg("--ca").starts_with(CERT_DIR_IN_CONTAINER));
    assert!(
        environment(sim)
            .iter()
            .any(|(k, v)| k == "CW_DEVICE_TOKEN" && is_single_interpolation(v)),
        "the device token comes from the environment"
    );
    for ext in ["hea", "dat", "atr"] {
        let file = format!("testdata/mitdb/100.{ext}");
        assert!(root().join(&file).is_file(), "{file} is missing");
    }
}

#[test]
fn dockerfile_is_multi_stage_and_runs_as_non_root() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .collect();
    assert!(froms.len() >= 2, "at least a build and a runtime stage");
    assert!(froms[0].contains("rust:"), "builds on the rust image");
    assert!(
        froms
            .last()
            .is_some_and(|f| f.contains("debian:bookworm-slim")),
        "runs on debian slim"
    );
    let user = instructions
        .iter()
        .rev()
        .find(|l| l.to_ascii_uppercase().starts_with("USER "))
        .expect("the Dockerfile sets a USER");
    let who = user[5..]
        .trim()
        .split(':')
        .next()
        .expect("split yields one");
    assert!(
        who != "root" && who != "0",
        "the runtime user is not root: {user}"
    );
    assert!(dockerfile.contains("--locked"), "cargo build --locked");
    for binary in SERVICES.iter().map(|s| s.binary).chain(["cardiowatch"]) {
        assert!(
            dockerfile.contains(&format!("target/release/{binary}")),
            "the image ships {binary}"
        );
    }
    assert!(
        !dockerfile.contains("curl"),
        "the runtime has no curl: healthchecks run `cardiowatch health`"
    );
    assert!(
        dockerfile.contains("deploy/testdata-ATTRIBUTION.md")
            && root().join("deploy/testdata-ATTRIBUTION.md").is_file(),
        "record 100 ships with its attribution"
    );
    for secret in ["CW_BUS__KEY_HEX", "CW_AUTH__JWT_SECRET", "PASSWORD"] {
        assert!(
            !dockerfile.contains(secret),
            "the Dockerfile must not bake in {secret}"
        );
    }
}

#[test]
fn dockerignore_keeps_secrets_and_build_output_out_of_the_context() {
    let ignore = read(".dockerignore");
    let rules: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for rule in [
        "target/",
        ".git/",
        "**/.env*",
        "deploy/certs/",
        "deploy/dev-ca/",
        "deploy/secrets/",
        "**/*.pem",
    ] {
        assert!(rules.contains(rule), ".dockerignore lacks `{rule}`");
    }
    for ext in ["hea", "dat", "atr"] {
        let keep = format!("!testdata/mitdb/100.{ext}");
        assert!(
            rules.contains(keep.as_str()),
            ".dockerignore must keep record 100 ({keep})"
        );
    }
    let certs_ignored = read("deploy/.gitignore");
    assert!(
        certs_ignored.lines().any(|l| l.trim() == "certs/")
            && certs_ignored.lines().any(|l| l.trim() == ".env")
            && certs_ignored.lines().any(|l| l.trim() == "secrets/")
            && certs_ignored.lines().any(|l| l.trim() == "dev-ca/"),
        "deploy/.gitignore keeps generated certs, secret files and the env file out of git"
    );
}

#[test]
fn dev_cert_script_covers_the_names_the_services_are_reached_by() {
    let script = read("deploy/make-dev-certs.sh");
    for name in ["localhost", "ingest", "api", "alert-engine", "notifier"] {
        assert!(
            script.contains(&format!("DNS:{name}")),
            "make-dev-certs.sh SAN lacks {name}"
        );
    }
    for file in ["ca.pem", "server.pem", "server-key.pem"] {
        assert!(script.contains(file), "make-dev-certs.sh writes {file}");
    }
    assert!(Path::new(&root().join("deploy/make-dev-certs.sh")).is_file());
}

/// `512m`, `1g`, `1.5g` (compose's byte units) in bytes.
fn bytes(text: &str) -> u64 {
    let text = text.trim().to_ascii_lowercase();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let number: f64 = digits
        .parse()
        .unwrap_or_else(|e| panic!("memory `{text}`: {e}"));
    let scale = match unit {
        "" | "b" => 1u64,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        other => panic!("memory `{text}`: unknown unit `{other}`"),
    };
    (number * scale as f64) as u64
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `ulimits.nofile` as (soft, hard); compose also takes a single number for both.
fn nofile(service: &Value) -> Option<(u64, u64)> {
    let nofile = &service["ulimits"]["nofile"];
    match nofile {
        Value::Number(n) => n.as_u64().map(|n| (n, n)),
        Value::Mapping(_) => Some((nofile["soft"].as_u64()?, nofile["hard"].as_u64()?)),
        _ => None,
    }
}

/// Room beside the public listener's connections: the admin listener, bus sockets,
/// store pools, log and config files.
const NOFILE_HEADROOM: u64 = 4096;

#[test]
fn every_service_has_resource_limits_log_rotation_and_an_open_file_limit() {
    let compose = compose();
    for (name, service) in services(&compose) {
        let name = name_of(name);
        let limits = &service["deploy"]["resources"]["limits"];
        let memory = scalar_text(&limits["memory"])
            .unwrap_or_else(|| panic!("`{name}` has no deploy.resources.limits.memory"));
        assert!(
            bytes(&memory) >= 64 << 20,
            "`{name}`: memory limit {memory} is below 64 MiB"
        );
        let cpus: f64 = scalar_text(&limits["cpus"])
            .unwrap_or_else(|| panic!("`{name}` has no deploy.resources.limits.cpus"))
            .parse()
            .unwrap_or_else(|e| panic!("`{name}`: cpus: {e}"));
        assert!(cpus > 0.0, "`{name}`: cpus limit must be positive");

        // Docker's default json-file driver keeps every line forever: rotate.
        let logging = &service["logging"];
        assert_eq!(
            logging["driver"].as_str(),
            Some("json-file"),
            "`{name}` logs with the json-file driver"
        );
        let max_size = scalar_text(&logging["options"]["max-size"])
            .unwrap_or_else(|| panic!("`{name}`: logging.options.max-size"));
        assert!(bytes(&max_size) > 0, "`{name}`: max-size {max_size}");
        let max_file: u64 = scalar_text(&logging["options"]["max-file"])
            .unwrap_or_else(|| panic!("`{name}`: logging.options.max-file"))
            .parse()
            .unwrap_or_else(|e| panic!("`{name}`: max-file: {e}"));
        assert!(max_file >= 1, "`{name}`: max-file");

        let (soft, hard) =
            nofile(service).unwrap_or_else(|| panic!("`{name}` has no ulimits.nofile"));
        assert!(
            (1024..=hard).contains(&soft),
            "`{name}`: nofile soft {soft} must be ≥ 1024 and ≤ hard {hard}"
        );
    }
    // Each TLS connection is a socket: ingest (gateways) and api (browsers, live views)
    // must be able to hold their listener's cap (docs/architecture.md, "Security
    // defaults"), or accept() fails with EMFILE before the cap refuses anyone.
    let (ingest, api, ..) = deploy_configs();
    for (name, cap) in [
        ("ingest", ingest.tls.connections.max_connections),
        ("api", api.tls.connections.max_connections),
    ] {
        let (soft, _) = nofile(service(&compose, name)).expect("checked above");
        let needed = cap as u64 + NOFILE_HEADROOM;
        assert!(
            soft >= needed,
            "`{name}`: nofile {soft} < max_connections {cap} + {NOFILE_HEADROOM}"
        );
    }
}

/// The environment compose gives `service`, with what `.env` and the secret files would
/// supply replaced by placeholders: enough to load its config as its binary does.
fn placeholder_env(service: &Value) -> Vec<(String, String)> {
    environment(service)
        .into_iter()
        .map(|(key, value)| match key.strip_suffix("_FILE") {
            Some(var) => (var.to_owned(), "placeholder".to_owned()),
            None if value.starts_with("${CW_WEBHOOKS__PUBLIC_URL") => {
                (key, "https://notify.example.org:8445".to_owned())
            }
            None if value.starts_with("${") => (key, "placeholder".to_owned()),
            None => (key, value),
        })
        .filter(|(key, _)| {
            ![
                "CW_BUS__KEY_HEX",
                "CW_STORAGE__AUDIT__KEY_HEX",
                "CW_LOG_FORMAT",
            ]
            .contains(&key.as_str())
        })
        .collect()
}

#[test]
fn twilio_webhooks_are_published_under_the_webhooks_profile_and_documented() {
    let compose = compose();
    let hooks = service(&compose, "notifier-webhooks");
    let notifier = service(&compose, "notifier");
    assert_eq!(strings(&hooks["profiles"]), vec!["webhooks".to_owned()]);
    assert!(
        strings(&notifier["profiles"]).is_empty(),
        "the paging notifier runs without a profile"
    );
    // The same notifier, plus the listener: one config file, one set of secrets.
    assert_eq!(strings(&hooks["command"]), strings(&notifier["command"]));
    assert_eq!(strings(&hooks["volumes"]), strings(&notifier["volumes"]));
    assert_eq!(strings(&hooks["secrets"]), strings(&notifier["secrets"]));
    let hooks_env = environment(hooks);
    for entry in environment(notifier) {
        assert!(
            hooks_env.contains(&entry),
            "notifier-webhooks lacks the notifier's {}",
            entry.0
        );
    }

    let env = placeholder_env(hooks);
    let cfg: cw_notifier::NotifierConfig =
        cw_config::load_with_env(Some(&config_path("notifier.toml")), env.clone())
            .unwrap_or_else(|e| panic!("notifier-webhooks' config does not load: {e}"));
    let unknown = cw_config::unknown_env_vars::<cw_notifier::NotifierConfig>(
        environment(hooks).into_iter().map(|(k, _)| k),
    );
    assert!(unknown.is_empty(), "variables naming no key: {unknown:?}");
    let webhooks = cfg
        .webhooks
        .as_ref()
        .expect("CW_WEBHOOKS__* switch the listener on");
    let port = port_of(&webhooks.listen);
    assert_eq!(host_of(&webhooks.listen), "0.0.0.0");
    assert!(
        !webhooks.tls.insecure_plaintext,
        "Twilio reaches it over TLS"
    );
    assert!(
        webhooks.tls.cert_path.starts_with(CERT_DIR_IN_CONTAINER)
            && webhooks.tls.key_path.starts_with(CERT_DIR_IN_CONTAINER),
        "the listener's certificate comes from the mounted {CERT_DIR_IN_CONTAINER}"
    );
    assert_eq!(
        published_ports(hooks),
        BTreeSet::from([port]),
        "notifier-webhooks publishes exactly its webhook port"
    );
    assert!(
        published_ports(notifier).is_empty(),
        "the notifier without the profile publishes nothing"
    );
    // Without the profile nothing needs the URL, so compose must not require it.
    let url = hooks_env
        .iter()
        .find(|(k, _)| k == "CW_WEBHOOKS__PUBLIC_URL")
        .map(|(_, v)| v.as_str())
        .expect("the public URL comes from .env");
    assert_eq!(url, "${CW_WEBHOOKS__PUBLIC_URL:-}");
    let default_cfg = load!(cw_notifier::NotifierConfig, "notifier.toml");
    assert!(
        default_cfg.webhooks.is_none(),
        "notifier.toml leaves the listener off; the profile switches it on"
    );

    let readme = read("deploy/README.md");
    // The URL to paste into Twilio's console, for a host named in CW_WEBHOOKS__PUBLIC_URL.
    let sms_url = format!(":{port}{}", cw_notifier::webhooks::SMS_PATH);
    for needle in [
        "--profile webhooks",
        &format!("{port}"),
        "`CW_WEBHOOKS__PUBLIC_URL`",
        &sms_url,
    ] {
        assert!(
            readme.contains(needle),
            "deploy/README.md does not say `{needle}`"
        );
    }
}

#[test]
fn the_dev_ca_key_is_not_mounted_into_any_container() {
    // Run the script the README tells operators to run, into a scratch project.
    let project = tempfile::tempdir().expect("temp dir");
    let deploy = project.path().join("deploy");
    std::fs::create_dir_all(&deploy).expect("deploy dir");
    let script = deploy.join("make-dev-certs.sh");
    std::fs::copy(root().join("deploy/make-dev-certs.sh"), &script).expect("script copied");
    let made = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .expect("running make-dev-certs.sh");
    assert!(
        made.status.success(),
        "make-dev-certs.sh failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let certs = deploy.join("certs");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&certs).expect("deploy/certs written") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            name == "server-key.pem" || !text.contains("PRIVATE KEY"),
            "deploy/certs/{name} holds a private key; only the server's belongs there"
        );
        names.insert(name);
    }
    assert_eq!(
        names,
        BTreeSet::from(["ca.pem", "server.pem", "server-key.pem"].map(str::to_owned)),
        "deploy/certs holds the certificates and the server key only"
    );
    let ca_key = deploy.join("dev-ca/ca-key.pem");
    assert!(
        std::fs::read_to_string(&ca_key).is_ok_and(|t| t.contains("PRIVATE KEY")),
        "the CA key is kept in deploy/dev-ca"
    );

    // No container mounts deploy/dev-ca, nor a directory holding it.
    let compose = compose();
    for (name, service) in services(&compose) {
        for (source, target) in bind_mounts(service) {
            let source = source.trim_end_matches('/');
            assert!(
                !"./deploy/dev-ca".starts_with(source) && !source.starts_with("./deploy/dev-ca"),
                "`{}` mounts {source} at {target}, which holds the dev CA key",
                name_of(name)
            );
        }
    }
}

/// Paths of the build stage's `COPY` sources (before the stage's first `FROM … AS
/// runtime`-like second stage).
fn build_stage_copy_sources(dockerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    let mut froms = 0;
    for line in dockerfile.lines().map(str::trim) {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("FROM ") {
            froms += 1;
        }
        if froms == 1 && upper.starts_with("COPY ") {
            let words: Vec<&str> = line[5..]
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            if let Some((_, from)) = words.split_last() {
                sources.extend(from.iter().map(|s| (*s).to_owned()));
            }
        }
    }
    sources
}

#[test]
fn the_build_copies_only_what_it_needs() {
    let dockerfile = read("Dockerfile");
    let sources = build_stage_copy_sources(&dockerfile);
    assert!(!sources.is_empty(), "the build stage copies its sources");
    for source in &sources {
        assert!(
            source != "." && source != "./" && !source.contains('*'),
            "the build stage copies `{source}`: name what the build needs instead"
        );
        assert!(
            root().join(source).exists(),
            "the Dockerfile copies {source}, which does not exist"
        );
    }
    let copied = |path: &str| {
        sources
            .iter()
            .any(|s| path == s || path.starts_with(&format!("{}/", s.trim_end_matches('/'))))
    };
    // Every workspace member: cargo loads them all, and builds the services' and the
    // CLI's. tests/ (cw-e2e) only needs its manifest.
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml is TOML");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace members");
    for member in members {
        let member = member.as_str().expect("member path");
        assert!(
            copied(&format!("{member}/Cargo.toml")),
            "the Dockerfile does not copy workspace member {member}"
        );
    }
    // What the binaries embed (`include_bytes!` / `include_str!` outside their crate).
    let embedded = read("cli/src/embedded_record.rs");
    let mut rest = embedded.as_str();
    let mut found = 0;
    while let Some(at) = rest.find("(\"../../") {
        let after = &rest[at + 8..];
        let end = after.find('"').expect("closing quote");
        let path = &after[..end];
        assert!(
            copied(path),
            "the cardiowatch binary embeds {path}: COPY it"
        );
        found += 1;
        rest = &after[end..];
    }
    assert!(found >= 2, "cli/src/embedded_record.rs embeds record 100");
}
