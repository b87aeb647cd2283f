//! The Kubernetes manifests (`deploy/kustomization.yaml`, `deploy/k8s/`): rendered with
//! `kubectl kustomize`, validated against the Kubernetes API schemas by
//! `kubernetes-validate` (PyPI; both installed by `scripts/test`), and checked against
//! the services' deploy configs and what docker-compose.yml gives each service
//! (docs/operations.md, "Kubernetes").

use cw_e2e::env::required;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Kubernetes version whose schemas the manifests must pass.
const KUBERNETES_VERSION: &str = "1.30.0";

/// The four services: Deployment name, binary, config file.
const SERVICES: [(&str, &str, &str); 4] = [
    ("ingest", "cw-ingest", "ingest.toml"),
    ("api", "cw-api", "api.toml"),
    ("alert-engine", "cw-alert-engine", "alert-engine.toml"),
    ("notifier", "cw-notifier", "notifier.toml"),
];

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{from:?}: {e}")) {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        }
    }
}

fn compose() -> Value {
    let path = deploy().join("../docker-compose.yml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(&path).expect("docker-compose.yml"))
        .expect("compose YAML")
}

/// The names of compose's secret files (its top-level `secrets:`).
fn compose_secret_files() -> Vec<String> {
    compose()["secrets"]
        .as_mapping()
        .expect("compose secrets")
        .keys()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// `kubectl kustomize` of a copy of deploy/ whose `.env` is `env.example` and whose
/// `secrets/` holds a placeholder per compose secret (what an operator fills in), so no
/// secret of this machine is read.
fn render() -> String {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    std::fs::copy(
        deploy().join("kustomization.yaml"),
        root.join("kustomization.yaml"),
    )
    .expect("kustomization.yaml");
    std::fs::copy(deploy().join("env.example"), root.join(".env")).expect("env.example");
    std::fs::create_dir(root.join("secrets")).expect("secrets dir");
    for name in compose_secret_files() {
        std::fs::write(root.join("secrets").join(&name), "placeholder").expect("secret file");
    }
    copy_dir(&deploy().join("k8s"), &root.join("k8s"));
    copy_dir(&deploy().join("config"), &root.join("config"));
    let out = Command::new(required("CW_TEST_KUBECTL"))
        .arg("kustomize")
        .arg(root)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 manifests")
}

/// The documents of kubectl's output (`---` between them).
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n")
        .map(|d| serde_yaml_ng::from_str::<Value>(d).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// `kubernetes-validate --strict` of `yaml`: (passed, its report).
fn validate(yaml: &str) -> (bool, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("manifests.yaml");
    std::fs::write(&file, yaml).expect("manifests written");
    let out = Command::new(required("CW_TEST_KUBERNETES_VALIDATE"))
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(docs, kind)
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn config(file: &str) -> toml::Table {
    let path = deploy().join("config").join(file);
    toml::from_str(&std::fs::read_to_string(&path).expect("config readable")).expect("TOML")
}

fn port_of(listen: &str) -> u64 {
    listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {listen}"))
}

#[test]
fn manifests_render_and_pass_the_kubernetes_schemas() {
    let yaml = render();
    let docs = documents(&yaml);
    assert!(docs.len() > 20, "{} resources", docs.len());
    let (valid, report) = validate(&yaml);
    assert!(valid, "kubernetes-validate:\n{report}");
    // The validator is strict: a misspelt field fails it.
    let broken = yaml.replacen("maxUnavailable:", "maxUnavailble:", 1);
    assert_ne!(broken, yaml);
    let (valid, report) = validate(&broken);
    assert!(!valid && report.contains("maxUnavailble"), "{report}");
}

#[test]
fn every_service_is_probed_limited_and_locked_down() {
    let docs = documents(&render());
    for (name, binary, file) in SERVICES {
        let deployment = named(&docs, "Deployment", name);
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
        let container = &pod["containers"][0];
        let command: Vec<_> = container["command"]
            .as_sequence()
            .expect("a command")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let config_path = format!("/etc/cardiowatch/{file}");
        assert_eq!(
            command,
            [binary, "--config", config_path.as_str()],
            "{name}"
        );
        let mounted = container["volumeMounts"]
            .as_sequence()
            .expect("mounts")
            .iter()
            .any(|m| m["mountPath"] == config_path.as_str() && m["subPath"] == file);
        assert!(
            mounted,
            "{name}: {config_path} is not mounted from the ConfigMap"
        );

        // Probes on the admin listener: readiness /readyz, liveness /healthz (a store
        // outage takes the pod out of traffic, never restarts it).
        let admin = port_of(config(file)["admin_listen"].as_str().expect("admin_listen"));
        let ports = container["ports"].as_sequence().expect("ports");
        let admin_port = ports
            .iter()
            .find(|p| p["name"] == "admin")
            .unwrap_or_else(|| panic!("{name}: no admin port"));
        assert_eq!(admin_port["containerPort"].as_u64(), Some(admin), "{name}");
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
            let get = &container[probe]["httpGet"];
            assert_eq!(get["path"], path, "{name} {probe}");
            assert_eq!(get["port"], "admin", "{name} {probe}");
            assert_eq!(get["scheme"], "HTTPS", "{name} {probe}");
        }

        let requests = &container["resources"]["requests"];
        assert!(
            requests["cpu"].is_string() && requests["memory"].is_string(),
            "{name}: no resource requests"
        );
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{name}: no memory limit"
        );
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(security["runAsNonRoot"], true, "{name}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(security["capabilities"]["drop"][0], "ALL", "{name}");

        let pdb = named(&docs, "PodDisruptionBudget", name);
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"],
            "{name}: the PDB selects other pods"
        );
    }
    for name in ["ingest", "api"] {
        let hpa = named(&docs, "HorizontalPodAutoscaler", name);
        assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], name);
    }
}

/// Every bus endpoint the deploy configs connect to names a headless Service, so its name
/// resolves to every pod and the bus connects to each (docs/architecture.md,
/// "Discovery"): more ingest, engine or api pods are heard without restarting anyone.
/// Through a ClusterIP a second ingest's samples would reach no engine.
#[test]
fn bus_endpoints_name_headless_services_so_every_pod_is_a_peer() {
    let docs = documents(&render());
    let mut checked = BTreeSet::new();
    for (_, _, file) in SERVICES {
        let text = toml::to_string(&config(file)).expect("TOML");
        for found in text.split("tcp://").skip(1) {
            let authority = found.split(['"', ',', '\n']).next().unwrap_or_default();
            let Some((host, _)) = authority.rsplit_once(':') else {
                continue;
            };
            // Bind addresses (0.0.0.0) are where the service listens, not a peer.
            if host.parse::<std::net::IpAddr>().is_ok() {
                continue;
            }
            let service = &named(&docs, "Service", host)["spec"];
            assert_eq!(
                service["clusterIP"], "None",
                "{file} connects to tcp://{authority}: the Service {host} must be headless"
            );
            assert_eq!(service["publishNotReadyAddresses"], true, "{host}");
            checked.insert(host.to_owned());
        }
    }
    assert_eq!(
        checked,
        BTreeSet::from(["alert-engine", "api", "ingest"].map(str::to_owned)),
        "the bus peers named by the deploy configs"
    );
    // With every ingest heard, ingest scales and rolls with a surge pod.
    let hpa = named(&docs, "HorizontalPodAutoscaler", "ingest");
    assert!(hpa["spec"]["maxReplicas"].as_u64() > Some(1), "{hpa:?}");
    let ingest = &named(&docs, "Deployment", "ingest")["spec"];
    assert_eq!(ingest["strategy"]["type"], "RollingUpdate");
}

fn env_of(container: &Value) -> Vec<&Value> {
    container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .collect()
}

/// Each service's pod gets what compose gives it: the same variables (a `${VAR:?…}` of
/// compose is key VAR of the Secret made from `.env`, whose names are env.example's), and
/// at /run/secrets exactly the secret files compose mounts — no other key.
#[test]
fn pods_get_the_environment_and_secret_files_compose_gives() {
    let docs = documents(&render());
    let compose = compose();
    let generated = |prefix: &str| {
        of_kind(&docs, "Secret")
            .into_iter()
            .find(|s| {
                s["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no generated Secret {prefix}"))
    };
    let env_secret = generated("cardiowatch-env-");
    let files_secret = generated("cardiowatch-secrets-");
    let env_keys: BTreeSet<&str> = env_secret["data"]
        .as_mapping()
        .expect("data")
        .keys()
        .filter_map(Value::as_str)
        .collect();
    for (name, _, _) in SERVICES {
        let pod = &named(&docs, "Deployment", name)["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let service = &compose["services"][name];
        let mut want = BTreeSet::new();
        for (var, value) in service["environment"].as_mapping().expect("environment") {
            let var = var.as_str().expect("a name").to_owned();
            let value = value.as_str().expect("a string value").to_owned();
            want.insert((var, value));
        }
        let mut got = BTreeSet::new();
        for env in env_of(container) {
            let var = env["name"].as_str().expect("a name").to_owned();
            if var.ends_with("__IDENTITY") {
                assert_eq!(env["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
                continue;
            }
            let reference = &env["valueFrom"]["secretKeyRef"];
            let value = if reference.is_null() {
                env["value"].as_str().expect("a value").to_owned()
            } else {
                assert_eq!(reference["name"], env_secret["metadata"]["name"], "{name}");
                let key = reference["key"].as_str().expect("a key");
                assert!(
                    env_keys.contains(key),
                    "{name} reads {key}, not in env.example"
                );
                // Compose's form of the same: `${KEY:?message}` for a required key, or
                // `${KEY:-default}` for one the pod may go without (`optional: true`).
                let optional = reference["optional"].as_bool().unwrap_or(false);
                let prefix = format!("${{{key}:{}", if optional { '-' } else { '?' });
                want.iter()
                    .find(|(v, w)| *v == var && w.starts_with(&prefix))
                    .map(|(_, w)| w.clone())
                    .unwrap_or_else(|| panic!("{name}: {var} is not ${{{key}}} in compose"))
            };
            got.insert((var, value));
        }
        assert_eq!(got, want, "{name}: environment differs from compose");

        let volume = pod["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .find(|v| v["secret"]["secretName"] == files_secret["metadata"]["name"])
            .unwrap_or_else(|| panic!("{name}: no secret files volume"));
        let items: BTreeSet<&str> = volume["secret"]["items"]
            .as_sequence()
            .expect("items: only the files this service needs")
            .iter()
            .map(|i| {
                assert_eq!(i["key"], i["path"]);
                i["key"].as_str().expect("a key")
            })
            .collect();
        let compose_files: BTreeSet<&str> = service["secrets"]
            .as_sequence()
            .expect("compose secrets")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(items, compose_files, "{name}: secret files");
        for item in &items {
            assert!(
                !files_secret["data"][*item].is_null(),
                "{name}: {item} is not in the kustomization's secret files"
            );
        }
        let mount = container["volumeMounts"]
            .as_sequence()
            .expect("mounts")
            .iter()
            .find(|m| m["name"] == volume["name"])
            .unwrap_or_else(|| panic!("{name}: secret files not mounted"));
        assert_eq!(mount["mountPath"], "/run/secrets", "{name}");
        assert_eq!(mount["readOnly"], true, "{name}");
    }
    // No key or password sits in a plain value anywhere.
    for workload in of_kind(&docs, "Deployment")
        .into_iter()
        .chain(of_kind(&docs, "StatefulSet"))
    {
        for container in workload["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .expect("containers")
        {
            for env in env_of(container) {
                let var = env["name"].as_str().unwrap_or_default();
                let sensitive = ["KEY", "PASSWORD", "SECRET", "TOKEN"]
                    .iter()
                    .any(|w| var.contains(w));
                let plain = env["value"].as_str().is_some_and(|v| !v.is_empty());
                assert!(
                    !(sensitive && !var.ends_with("_FILE") && plain),
                    "{var} given as a plain value"
                );
            }
        }
    }
}

/// Only the four services reach the databases (and the mongodb-users Job MongoDB);
/// everything else is denied by default.
#[test]
fn network_policies_let_only_the_services_reach_the_stores() {
    let docs = documents(&render());
    let policies = of_kind(&docs, "NetworkPolicy");
    assert!(
        policies.iter().any(|p| p["spec"]["podSelector"]
            .as_mapping()
            .is_some_and(|m| m.is_empty())
            && p["spec"]["ingress"]
                .as_sequence()
                .is_some_and(|i| i.is_empty())),
        "no default-deny policy"
    );
    let services: BTreeSet<String> = SERVICES.iter().map(|(n, _, _)| n.to_string()).collect();
    for store in ["influxdb", "mongodb"] {
        // MongoDB's users are made by the mongodb-users Job, which reaches only it.
        let mut services = services.clone();
        if store == "mongodb" {
            services.insert("mongodb-users".to_owned());
        }
        let mut allowed = BTreeSet::new();
        for policy in &policies {
            let selects = &policy["spec"]["podSelector"]["matchLabels"];
            if selects["app.kubernetes.io/name"] != store {
                continue;
            }
            for rule in policy["spec"]["ingress"].as_sequence().expect("ingress") {
                let from = rule["from"]
                    .as_sequence()
                    .unwrap_or_else(|| panic!("{store}: a rule open to everyone"));
                for peer in from {
                    assert!(
                        peer["namespaceSelector"].is_null() && peer["ipBlock"].is_null(),
                        "{store}: reachable from outside the namespace"
                    );
                    let name = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                        .as_str()
                        .expect("a named pod selector");
                    allowed.insert(name.to_owned());
                }
            }
        }
        assert_eq!(allowed, services, "who reaches {store}");
    }
}

/// Every host:port the deploy configs connect to (bus endpoints, stores) is a Service of
/// the render exposing that port: the compose configs work unchanged in the cluster.
#[test]
fn config_endpoints_are_services_of_the_render() {
    let docs = documents(&render());
    let exposed: BTreeSet<(String, u64)> = of_kind(&docs, "Service")
        .into_iter()
        .flat_map(|s| {
            let name = s["metadata"]["name"].as_str().expect("a name").to_owned();
            s["spec"]["ports"]
                .as_sequence()
                .expect("ports")
                .iter()
                .map(move |p| (name.clone(), p["port"].as_u64().expect("a port")))
        })
        .collect();
    let mut checked = 0;
    for (_, _, file) in SERVICES {
        let text = toml::to_string(&config(file)).expect("TOML");
        for scheme in ["tcp://", "http://", "mongodb://"] {
            for found in text.split(scheme).skip(1) {
                let authority = found
                    .split(['/', '?', '"', ',', '\n'])
                    .next()
                    .unwrap_or_default();
                // Credentials before '@' (a MongoDB URI's) are no part of the address.
                let address = authority.rsplit('@').next().unwrap_or_default();
                let Some((host, port)) = address.rsplit_once(':') else {
                    continue;
                };
                // Bind addresses (0.0.0.0) are where the service listens, not a peer.
                if host.parse::<std::net::IpAddr>().is_ok() {
                    continue;
                }
                let port: u64 = port
                    .parse()
                    .unwrap_or_else(|_| panic!("{file}: no port in {authority}"));
                assert!(
                    exposed.contains(&(host.to_owned(), port)),
                    "{file} connects to {host}:{port}, which no Service exposes"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked} endpoints checked");
}

/// The stores run the image compose pins (docker-compose.yml is the one place a store
/// version is chosen; compose.rs checks that pin), so an upgrade there cannot leave
/// Kubernetes on the old line (it did: InfluxDB 1.8 here after compose moved to 1.11).
#[test]
fn store_images_are_the_ones_compose_pins() {
    let docs = documents(&render());
    let compose = compose();
    for store in ["influxdb", "mongodb"] {
        let pinned = compose["services"][store]["image"]
            .as_str()
            .unwrap_or_else(|| panic!("compose service {store} has no image"));
        let containers =
            named(&docs, "StatefulSet", store)["spec"]["template"]["spec"]["containers"]
                .as_sequence()
                .unwrap_or_else(|| panic!("StatefulSet {store} has no containers"));
        for container in containers {
            assert_eq!(
                container["image"].as_str(),
                Some(pinned),
                "StatefulSet {store} runs another image than compose's"
            );
        }
    }
}

/// Neither InfluxDB OSS nor MongoDB Community encrypts its files: every volume of the
/// databases is claimed from the StorageClass the operator makes encrypted
/// (docs/operations.md, "Encryption at rest"), so none lands on a cluster's default,
/// possibly unencrypted, class; and each of compose's database volumes is one of them.
#[test]
fn the_databases_claim_only_the_encrypted_storage_class() {
    let docs = documents(&render());
    let mut claimed = BTreeSet::new();
    for store in ["influxdb", "mongodb"] {
        let templates = named(&docs, "StatefulSet", store)["spec"]["volumeClaimTemplates"]
            .as_sequence()
            .unwrap_or_else(|| panic!("StatefulSet {store} claims no volume"));
        for template in templates {
            let name = template["metadata"]["name"].as_str().unwrap_or_default();
            assert_eq!(
                template["spec"]["storageClassName"].as_str(),
                Some("cardiowatch-encrypted"),
                "StatefulSet {store} volume {name} may land on unencrypted storage"
            );
            claimed.insert(format!("{store}-{name}"));
        }
    }
    let compose = compose();
    let compose_volumes: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .expect("compose declares volumes")
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|v| v.starts_with("influxdb") || v.starts_with("mongodb"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        compose_volumes, claimed,
        "compose's database volumes and the encrypted claims differ"
    );
}

/// The mongodb-users Job runs what compose's one-shot `mongodb-users` runs: the same
/// command, environment and secret files (no other), and MongoDB runs with auth and TLS
/// as compose's (the same mongod arguments, root user and files).
#[test]
fn mongodb_users_and_mongodb_run_as_in_compose() {
    let docs = documents(&render());
    let compose = compose();
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .expect("a list")
            .iter()
            .map(|s| s.as_str().expect("a string").to_owned())
            .collect()
    };
    let env_pairs = |container: &Value| -> BTreeSet<(String, String)> {
        env_of(container)
            .iter()
            .map(|e| {
                let value = e["value"].as_str().expect("plain values only here");
                (
                    e["name"].as_str().expect("a name").to_owned(),
                    value.to_owned(),
                )
            })
            .collect()
    };
    let compose_env = |name: &str| -> BTreeSet<(String, String)> {
        compose["services"][name]["environment"]
            .as_mapping()
            .expect("environment")
            .iter()
            .map(|(k, v)| {
                let k = k.as_str().expect("a name").to_owned();
                (k, v.as_str().expect("a string").to_owned())
            })
            .collect()
    };
    let secret_items = |pod: &Value| -> BTreeSet<String> {
        pod["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .filter(|v| v["name"] == "secrets")
            .flat_map(|v| v["secret"]["items"].as_sequence().expect("items").iter())
            .map(|i| i["key"].as_str().expect("a key").to_owned())
            .collect()
    };
    let compose_secrets = |name: &str| -> BTreeSet<String> {
        strings(&compose["services"][name]["secrets"])
            .into_iter()
            .collect()
    };

    let job = &named(&docs, "Job", "mongodb-users")["spec"]["template"]["spec"];
    let container = &job["containers"][0];
    assert_eq!(
        strings(&container["command"]),
        strings(&compose["services"]["mongodb-users"]["command"])
    );
    assert_eq!(env_pairs(container), compose_env("mongodb-users"));
    assert_eq!(secret_items(job), compose_secrets("mongodb-users"));

    let mongo = &named(&docs, "StatefulSet", "mongodb")["spec"]["template"]["spec"];
    let container = &mongo["containers"][0];
    assert_eq!(
        strings(&container["args"]),
        strings(&compose["services"]["mongodb"]["command"]),
        "mongod's arguments"
    );
    assert_eq!(env_pairs(container), compose_env("mongodb"));
    assert_eq!(secret_items(mongo), compose_secrets("mongodb"));
}
