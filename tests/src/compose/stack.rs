//! Bringing the compose project up: validate as compose does before it starts anything,
//! start the harness's servers for the third-party images, then each cardiowatch
//! service in `depends_on` order, each held to its own healthcheck.

use super::file::{ComposeFile, ServiceSpec};
use super::mapping::{Mounts, Network};
use super::{ComposeError, Operator};
use crate::influxd::AuthInflux;
use crate::mongod::OwnMongo;
use crate::processes::bin_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The image's WORKDIR (Dockerfile).
const WORKDIR: &str = "/var/lib/cardiowatch";
/// Files the Dockerfile copies into the image: (container path, repository path).
const IMAGE_FILES: [(&str, &str); 1] = [("/usr/share/cardiowatch/testdata", "testdata")];
/// How much of a log an error quotes.
const LOG_TAIL_LINES: usize = 40;

/// An environment entry added to a service, as a `docker-compose.override.yml` would.
pub struct Override {
    pub service: &'static str,
    pub var: &'static str,
    pub value: String,
}

struct Running {
    spec: ServiceSpec,
    child: Child,
    log: PathBuf,
    env: Vec<(String, String)>,
    mounts: Mounts,
}

pub struct Stack {
    repo: PathBuf,
    text: String,
    pub operator: Operator,
    file: ComposeFile,
    network: Network,
    overrides: Vec<Override>,
    running: Vec<Running>,
    influx: Option<AuthInflux>,
    mongo: Option<OwnMongo>,
    dir: tempfile::TempDir,
}

impl Stack {
    /// `docker compose up` of `text` (the compose file, as read from the repository
    /// root): every service without a profile.
    pub async fn up(
        repo: &Path,
        text: &str,
        operator: Operator,
        overrides: Vec<Override>,
    ) -> Result<Stack, ComposeError> {
        let file = ComposeFile::parse(text, &operator.env)?;
        let mut stack = Stack {
            repo: repo.to_owned(),
            text: text.to_owned(),
            network: Network::new(file.services.keys().cloned()),
            operator,
            file,
            overrides,
            running: Vec::new(),
            influx: None,
            mongo: None,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let active: Vec<ServiceSpec> = stack
            .file
            .services
            .values()
            .filter(|s| s.profiles.is_empty())
            .cloned()
            .collect();
        for service in &active {
            stack.validate(service, &active)?;
        }
        for service in active.iter().filter(|s| !s.built) {
            stack.stand_in(service).await?;
        }
        let mut started: Vec<String> = active
            .iter()
            .filter(|s| !s.built)
            .map(|s| s.name.clone())
            .collect();
        while started.len() < active.len() {
            let next = active
                .iter()
                .find(|s| {
                    !started.contains(&s.name)
                        && s.depends_on.iter().all(|(d, _)| started.contains(d))
                })
                .ok_or_else(|| ComposeError::Invalid("depends_on has a cycle".into()))?
                .clone();
            stack.start(&next, Vec::new(), |args| args)?;
            let awaited_to_end = active.iter().any(|s| {
                s.depends_on
                    .iter()
                    .any(|(d, how)| d == &next.name && how == "service_completed_successfully")
            });
            if awaited_to_end {
                stack.wait_completed(&next.name).await?;
            } else {
                stack.wait_healthy(&next.name).await?;
            }
            started.push(next.name.clone());
        }
        Ok(stack)
    }

    /// What compose checks before it starts anything.
    fn validate(&self, service: &ServiceSpec, active: &[ServiceSpec]) -> Result<(), ComposeError> {
        for (dependency, _) in &service.depends_on {
            if !active.iter().any(|s| &s.name == dependency) {
                return Err(ComposeError::UnknownDependency {
                    service: service.name.clone(),
                    dependency: dependency.clone(),
                });
            }
        }
        for secret in &service.secrets {
            let file =
                self.file
                    .secrets
                    .get(secret)
                    .ok_or_else(|| ComposeError::UndefinedSecret {
                        service: service.name.clone(),
                        secret: secret.clone(),
                    })?;
            let path = self.resolve(file);
            if !path.is_file() {
                return Err(ComposeError::MissingSecretFile {
                    service: service.name.clone(),
                    secret: secret.clone(),
                    path: self.operator.dir().join(file),
                });
            }
        }
        for (source, _) in &service.volumes {
            if is_bind(source) && !self.resolve(source).exists() {
                return Err(ComposeError::MissingMount {
                    service: service.name.clone(),
                    path: PathBuf::from(source),
                });
            }
        }
        if service.built {
            let program = service.command.first().cloned().unwrap_or_default();
            if !bin_dir().join(&program).is_file() {
                return Err(ComposeError::UnknownProgram {
                    service: service.name.clone(),
                    program,
                    dir: bin_dir(),
                });
            }
        }
        Ok(())
    }

    /// A project-relative path: the operator's file when they made one, else the
    /// repository's.
    fn resolve(&self, relative: &str) -> PathBuf {
        let own = self.operator.dir().join(relative);
        if own.exists() {
            own
        } else {
            self.repo.join(relative)
        }
    }

    /// The harness's server for a third-party image.
    async fn stand_in(&mut self, service: &ServiceSpec) -> Result<(), ComposeError> {
        let env: BTreeMap<&str, &str> = service
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if service.image.starts_with("influxdb:") {
            if env.get("INFLUXDB_HTTP_AUTH_ENABLED") != Some(&"true") {
                return Err(ComposeError::UnsupportedImage {
                    service: service.name.clone(),
                    image: format!("{} without INFLUXDB_HTTP_AUTH_ENABLED=true", service.image),
                });
            }
            let influx = AuthInflux::start().await;
            init_like_the_influxdb_image(&influx, &env).await;
            self.network
                .fix(&service.name, 8086, address_of(&influx.url));
            self.influx = Some(influx);
            Ok(())
        } else if service.image.starts_with("mongo:") {
            // A server of the stack's own: the file names its database (`cardiowatch`),
            // so stacks of tests running at once must not share one.
            let mut mongo = OwnMongo::start().await;
            // The emulator answers `hello` with its own, fixed replica-set name.
            let set = replica_set_name(&mongo.uri).await;
            init_like_the_mongo_image(&mongo.uri, &env, |p| self.host_path(service, p)).await;
            mongo
                .restart_with(secured_like_compose(service, &env, |p| {
                    self.host_path(service, p)
                }))
                .await;
            self.network.fix(&service.name, 27017, mongo.address());
            self.mongo = Some(mongo);
            let ours = service
                .command
                .iter()
                .skip_while(|a| *a != "--replSet")
                .nth(1)
                .cloned()
                .unwrap_or_default();
            self.network
                .substitute(&format!("replicaSet={ours}"), &format!("replicaSet={set}"));
            Ok(())
        } else {
            Err(ComposeError::UnsupportedImage {
                service: service.name.clone(),
                image: service.image.clone(),
            })
        }
    }

    /// The host file behind `path` inside `service`'s container: a mounted secret or a
    /// file under a bind mount.
    fn host_path(&self, service: &ServiceSpec, path: &str) -> PathBuf {
        if let Some(secret) = path.strip_prefix("/run/secrets/") {
            let file = self
                .file
                .secrets
                .get(secret)
                .unwrap_or_else(|| panic!("{}: {path} is no secret of the file", service.name));
            return self.resolve(file);
        }
        service
            .volumes
            .iter()
            .filter(|(source, _)| is_bind(source))
            .find_map(|(source, target)| {
                let rest = path.strip_prefix(target.as_str())?;
                Some(self.resolve(source).join(rest.trim_start_matches('/')))
            })
            .unwrap_or_else(|| panic!("{}: nothing is mounted at {path}", service.name))
    }

    /// Waits for a one-shot service another one waits for
    /// (`service_completed_successfully`) to exit, and requires it to succeed.
    async fn wait_completed(&mut self, name: &str) -> Result<(), ComposeError> {
        let running = self
            .running
            .iter_mut()
            .find(|r| r.spec.name == name)
            .expect("started");
        let limit = Duration::from_secs(120);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                if status.success() {
                    return Ok(());
                }
                return Err(ComposeError::Exited {
                    service: name.to_owned(),
                    status: status.to_string(),
                    log: log_tail(&running.log),
                });
            }
            if started.elapsed() > limit {
                return Err(ComposeError::Unhealthy {
                    service: name.to_owned(),
                    waited_s: limit.as_secs(),
                    last: "still running; a service waits for it to complete".into(),
                    log: log_tail(&running.log),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts `service` with `args` (its command after the mappings) edited by `edit`.
    fn start(
        &mut self,
        service: &ServiceSpec,
        extra_env: Vec<(String, String)>,
        edit: impl FnOnce(Vec<String>) -> Vec<String>,
    ) -> Result<(), ComposeError> {
        let root = self.dir.path().join("rootfs").join(&service.name);
        let mut mounts = Mounts::default();
        let workdir = root.join(WORKDIR.trim_start_matches('/'));
        std::fs::create_dir_all(&workdir).expect("workdir");
        mounts.add(WORKDIR, workdir.clone());
        for (container, repo) in IMAGE_FILES {
            mounts.add(container, self.repo.join(repo));
        }
        // /run/secrets holds exactly the service's secrets (a program may be given the
        // directory, as `cardiowatch mongo-users --passwords` is).
        let secrets_dir = root.join("run/secrets");
        std::fs::create_dir_all(&secrets_dir).expect("secrets dir");
        for secret in &service.secrets {
            let file = self.resolve(&self.file.secrets[secret]);
            let link = secrets_dir.join(secret);
            if !link.exists() {
                std::os::unix::fs::symlink(&file, &link).expect("secret linked");
            }
            mounts.add(&format!("/run/secrets/{secret}"), file);
        }
        mounts.add("/run/secrets", secrets_dir);
        let mut text_files = Vec::new();
        for (source, target) in &service.volumes {
            if is_bind(source) {
                let host = self.resolve(source);
                if host.is_file() {
                    let copy = root.join(target.trim_start_matches('/'));
                    text_files.push((host, copy.clone()));
                    mounts.add(target, copy);
                } else {
                    mounts.add(target, host);
                }
            } else {
                let volume = self.dir.path().join("volumes").join(source);
                std::fs::create_dir_all(&volume).expect("volume dir");
                mounts.add(target, volume);
            }
        }
        // Mounted files are copied with the mappings applied (after every mount is
        // known, so a config file's paths to other mounts map too).
        for (host, copy) in text_files {
            let text = std::fs::read_to_string(&host)
                .unwrap_or_else(|e| panic!("{}: {e}", host.display()));
            let mapped = mounts.rewrite(&self.network.rewrite(&service.name, &text)?);
            std::fs::create_dir_all(copy.parent().expect("file has a parent")).expect("dir");
            std::fs::write(&copy, mapped).expect("mounted file copied");
        }
        let map = |s: &str| -> Result<String, ComposeError> {
            Ok(mounts.rewrite(&self.network.rewrite(&service.name, s)?))
        };
        let mut env = Vec::new();
        for (var, value) in &service.environment {
            env.push((var.clone(), map(value)?));
        }
        for o in self.overrides.iter().filter(|o| o.service == service.name) {
            env.push((o.var.to_owned(), o.value.clone()));
        }
        env.extend(extra_env);
        let args = service.command[1..]
            .iter()
            .map(|a| map(a))
            .collect::<Result<Vec<_>, _>>()?;
        let args = edit(args);
        let log = self.dir.path().join(format!("{}.log", service.name));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(bin_dir().join(&service.command[0]))
            .args(&args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&workdir)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", service.name));
        self.running.retain(|r| r.spec.name != service.name);
        self.running.push(Running {
            spec: service.clone(),
            child,
            log,
            env,
            mounts,
        });
        Ok(())
    }

    /// Runs the service's healthcheck (its command, mapped, in its environment) until it
    /// passes, the service exits, or compose would give up.
    async fn wait_healthy(&mut self, name: &str) -> Result<(), ComposeError> {
        let network = &self.network;
        let running = self
            .running
            .iter_mut()
            .find(|r| r.spec.name == name)
            .expect("started");
        let Some(check) = running.spec.healthcheck.clone() else {
            return Ok(());
        };
        let mut args = Vec::new();
        for arg in &check.command[1..] {
            args.push(running.mounts.rewrite(&network.rewrite(name, arg)?));
        }
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(ComposeError::Exited {
                    service: name.to_owned(),
                    status: status.to_string(),
                    log: log_tail(&running.log),
                });
            }
            let probe = tokio::process::Command::new(bin_dir().join(&check.command[0]))
                .args(&args)
                .env_clear()
                .envs(running.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .output();
            let last = match tokio::time::timeout(check.timeout, probe).await {
                Ok(Ok(output)) if output.status.success() => return Ok(()),
                Ok(Ok(output)) => format!(
                    "{} {}",
                    String::from_utf8_lossy(&output.stdout).trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                Ok(Err(e)) => format!("cannot run: {e}"),
                Err(_) => format!("timed out after {:?}", check.timeout),
            };
            if started.elapsed() > check.give_up_after {
                return Err(ComposeError::Unhealthy {
                    service: name.to_owned(),
                    waited_s: check.give_up_after.as_secs(),
                    last,
                    log: log_tail(&running.log),
                });
            }
            // Compose probes every `interval`; sooner here only saves test time.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `name` as compose would read it now (the operator's `.env` as it is), validated.
    fn spec_now(&self, name: &str) -> Result<ServiceSpec, ComposeError> {
        let file = ComposeFile::parse(&self.text, &self.operator.env)?;
        let service = file
            .services
            .get(name)
            .cloned()
            .ok_or_else(|| ComposeError::Invalid(format!("no service `{name}`")))?;
        self.validate(
            &service,
            &file.services.values().cloned().collect::<Vec<_>>(),
        )?;
        Ok(service)
    }

    /// `docker compose --profile P up -d NAME` on the running stack: a long-running
    /// service of a profile, started with the operator's `.env` as it is now and held to
    /// its healthcheck.
    pub async fn up_service(&mut self, name: &str) -> Result<(), ComposeError> {
        let service = self.spec_now(name)?;
        self.start(&service, Vec::new(), |args| args)?;
        self.wait_healthy(name).await
    }

    /// A one-shot service (`restart: "no"`, e.g. the demo profile's gateway-sim), run
    /// to its end with the operator's `.env` as it is now; `edit` may change its
    /// arguments (say why at the call). Returns its exit status and log.
    pub async fn run_to_end(
        &mut self,
        name: &str,
        edit: impl FnOnce(Vec<String>) -> Vec<String>,
        limit: Duration,
    ) -> Result<(std::process::ExitStatus, String), ComposeError> {
        let service = self.spec_now(name)?;
        self.start(&service, Vec::new(), edit)?;
        let running = self
            .running
            .iter_mut()
            .find(|r| r.spec.name == name)
            .expect("started");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                return Ok((
                    status,
                    std::fs::read_to_string(&running.log).unwrap_or_default(),
                ));
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not end within {limit:?}; its log:\n{}",
                log_tail(&running.log)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The host address of a port compose publishes (`ports:`); panics for one it does
    /// not, so a test reaches the stack only where an outside client could.
    pub fn published(&self, service: &str, port: u16) -> String {
        let spec = &self.file.services[service];
        assert!(
            spec.ports.contains(&port),
            "{service}:{port} is not published by docker-compose.yml"
        );
        self.network.address(service, port).expect("mapped")
    }

    /// The config `service` runs with: its mounted `--config` file and its environment
    /// (secret files included), loaded as its binary loads it.
    pub fn config_of<T: serde::de::DeserializeOwned>(&self, service: &str) -> T {
        let running = self
            .running
            .iter()
            .find(|r| r.spec.name == service)
            .unwrap_or_else(|| panic!("{service} is not running"));
        let config = running
            .spec
            .command
            .iter()
            .skip_while(|a| *a != "--config")
            .nth(1)
            .map(|c| PathBuf::from(running.mounts.rewrite(c)))
            .unwrap_or_else(|| panic!("{service} has no --config"));
        cw_config::load_with_env(Some(&config), running.env.iter().cloned())
            .unwrap_or_else(|e| panic!("{service}'s config: {e}"))
    }

    /// Every service's log, for a failing assertion.
    pub fn logs(&self) -> String {
        let mut out: String = self
            .running
            .iter()
            .map(|r| format!("===== {} =====\n{}\n", r.spec.name, log_tail(&r.log)))
            .collect();
        if let Some(influx) = &self.influx {
            out.push_str(&format!("===== influxd =====\n{}\n", influx.log_text()));
        }
        if let Some(mongo) = &self.mongo {
            out.push_str(&format!("===== secantusd =====\n{}\n", mongo.log_text()));
        }
        out
    }

    /// `host:port` of the MongoDB-protocol server standing in for the `mongodb` service
    /// (not published: for a test that checks what its users may do).
    pub fn mongo_address(&self) -> String {
        self.mongo.as_ref().expect("mongodb is running").address()
    }

    /// The InfluxDB server standing in for the `influxdb` service.
    pub fn influx_url(&self) -> String {
        self.influx
            .as_ref()
            .expect("influxdb is running")
            .url
            .clone()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for running in &mut self.running {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

fn is_bind(source: &str) -> bool {
    source.starts_with('.') || source.starts_with('/')
}

/// `host:port` of a URL.
fn address_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// What the `influxdb:1.x` image's first-start init does with its variables: the admin
/// (all privileges), the database, and the user with `GRANT ALL` on it.
async fn init_like_the_influxdb_image(influx: &AuthInflux, env: &BTreeMap<&str, &str>) {
    let get = |k: &str| {
        env.get(k)
            .copied()
            .unwrap_or_else(|| panic!("the influxdb service sets no {k}"))
    };
    let admin = (get("INFLUXDB_ADMIN_USER"), get("INFLUXDB_ADMIN_PASSWORD"));
    influx
        .query(
            &format!(
                "CREATE USER \"{}\" WITH PASSWORD '{}' WITH ALL PRIVILEGES",
                admin.0, admin.1
            ),
            None,
        )
        .await;
    let database = get("INFLUXDB_DB");
    influx
        .query(&format!("CREATE DATABASE \"{database}\""), Some(admin))
        .await;
    let user = (get("INFLUXDB_USER"), get("INFLUXDB_USER_PASSWORD"));
    influx
        .query(
            &format!("CREATE USER \"{}\" WITH PASSWORD '{}'", user.0, user.1),
            Some(admin),
        )
        .await;
    influx
        .query(
            &format!("GRANT ALL ON \"{database}\" TO \"{}\"", user.0),
            Some(admin),
        )
        .await;
}

/// What the `mongo` image's first start does with `MONGO_INITDB_ROOT_USERNAME` and
/// `MONGO_INITDB_ROOT_PASSWORD_FILE`: the root user, in `admin`, before auth is on.
async fn init_like_the_mongo_image(
    uri: &str,
    env: &BTreeMap<&str, &str>,
    host_path: impl Fn(&str) -> PathBuf,
) {
    let user = env
        .get("MONGO_INITDB_ROOT_USERNAME")
        .expect("the mongodb service sets MONGO_INITDB_ROOT_USERNAME");
    let file = host_path(
        env.get("MONGO_INITDB_ROOT_PASSWORD_FILE")
            .expect("the mongodb service sets MONGO_INITDB_ROOT_PASSWORD_FILE"),
    );
    // The image reads it with `$(< file)`, which drops trailing newlines.
    let password = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim_end_matches('\n')
        .to_owned();
    let client = mongodb::Client::with_uri_str(uri)
        .await
        .expect("mongo client");
    client
        .database("admin")
        .run_command(mongodb::bson::doc! {
            "createUser": *user,
            "pwd": password,
            "roles": [ { "role": "root", "db": "admin" } ],
        })
        .await
        .expect("the root user is created");
    client.shutdown().await;
}

/// The emulator's flags for what the compose command asks of mongod: auth (implied by
/// `--keyFile`; the emulator has no other members to authenticate, so the keyfile itself
/// has no stand-in), and TLS with the server's certificate and key (which the service's
/// entrypoint joins into `--tlsCertificateKeyFile` from `TLS_CERT_PEM` and
/// `TLS_PRIVATE_PEM`) and `--tlsCAFile`.
fn secured_like_compose(
    service: &ServiceSpec,
    env: &BTreeMap<&str, &str>,
    host_path: impl Fn(&str) -> PathBuf,
) -> Vec<String> {
    let flag = |name: &str| {
        service
            .command
            .iter()
            .position(|a| a == name)
            .map(|at| service.command.get(at + 1).cloned().unwrap_or_default())
    };
    let mut flags = Vec::new();
    if flag("--keyFile").is_some() || service.command.iter().any(|a| a == "--auth") {
        flags.push("--auth".to_owned());
    }
    if flag("--tlsMode").as_deref() == Some("requireTLS") {
        for (var, emulator) in [
            ("TLS_CERT_PEM", "--tls-cert-file"),
            ("TLS_PRIVATE_PEM", "--tls-key-file"),
        ] {
            let path = env
                .get(var)
                .unwrap_or_else(|| panic!("the mongodb service requires TLS but sets no {var}"));
            flags.extend([emulator.to_owned(), host_path(path).display().to_string()]);
        }
        if let Some(ca) = flag("--tlsCAFile") {
            flags.extend([
                "--tls-ca-file".to_owned(),
                host_path(&ca).display().to_string(),
            ]);
        }
    }
    flags
}

/// The replica-set name the MongoDB-protocol server reports.
async fn replica_set_name(uri: &str) -> String {
    let client = mongodb::Client::with_uri_str(uri)
        .await
        .expect("mongo client");
    let hello = client
        .database("admin")
        .run_command(mongodb::bson::doc! {"hello": 1})
        .await
        .expect("hello answers");
    client.shutdown().await;
    hello
        .get_str("setName")
        .unwrap_or_else(|_| panic!("the MongoDB-protocol server is no replica set: {hello}"))
        .to_owned()
}
