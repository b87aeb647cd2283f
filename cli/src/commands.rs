//! Command-line surface: parse, then hand over to the library.

use anyhow::Context;
use cardiowatch::demo::{self, DemoOptions};
use cardiowatch::store_args::StoreArgs;
use clap::{Parser, Subcommand};
use cw_core::{Role, UserId};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "cardiowatch",
    version,
    about = "Continuous ECG monitoring: demo, gateway simulator, offline detection, device and account administration, benchmarks"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system in one process with a simulated gateway streaming real ECG.
    Demo {
        /// Where the embedded store, dev certificates and local secrets live.
        #[arg(long, default_value = ".cw-data")]
        data_dir: PathBuf,
        /// WFDB record to stream (path without extension); the default,
        /// `embedded:mitdb/100`, is MIT-BIH record 100 built into the binary, so the demo
        /// runs from any directory.
        #[arg(long, default_value = cardiowatch::embedded_record::EMBEDDED_RECORD)]
        record: PathBuf,
        /// 1 = real time. Faster needs --seconds, with seconds × (speed − 1) ≤ 240 (ingest
        /// refuses samples more than 5 min old).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
        /// The demo patient's heart-rate high limit (record 100 runs at ~75 bpm).
        #[arg(long, default_value_t = 70.0)]
        hr_high: f32,
        /// Numerics streamed beside the ECG, a minute of the record a second from minute
        /// 1375 (the default, built into the binary, is the ICU record of testdata/vitals:
        /// its SpO2 probe comes off after 7 s and SpO2 falls under the demo's 96 % limit
        /// after about 62 s).
        #[arg(long, default_value = cardiowatch::embedded_record::EMBEDDED_VITALS)]
        vitals: PathBuf,
        /// Stream ECG only.
        #[arg(long)]
        no_vitals: bool,
        /// How the demo doctor's phone acknowledges the first page (through the
        /// notifier's signed Twilio webhooks).
        #[arg(long, value_enum, default_value = "sms")]
        phone_ack: cardiowatch::demo_phone::PhoneAck,
        /// Seconds after the first page before the phone answers.
        #[arg(long, default_value_t = 20)]
        phone_after: u64,
    },
    /// Stream WFDB records to ingest like gateways do: one (--token) or one per line of
    /// --tokens-file (staggered offsets, one connection each), with a progress line.
    Gateway(cardiowatch::gateway_command::GatewayArgs),
    /// Print the configuration reference (docs/config.md) from the services' config
    /// types: every key, type, default and CW_ variable.
    ConfigDoc(cardiowatch::config_doc::ConfigDocArgs),
    /// Check a service's health endpoint (`/healthz` or `/readyz`): exit 0 on 2xx, else
    /// 1; the image's HEALTHCHECK (no curl in the image).
    Health(cardiowatch::health::HealthArgs),
    /// Create or update the record store's MongoDB users (one per service, and the
    /// administrator) and their roles, from password files; signed in as the server's
    /// root user. Idempotent: deployments run it at every start.
    MongoUsers(cardiowatch::mongo_users::MongoUsersArgs),
    /// Register, revoke and list gateway devices in the configured storage.
    Device {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        what: cardiowatch::devices::DeviceCommand,
    },
    /// Detect and classify beats in a WFDB record offline; prints `sample,time_s,class` CSV
    /// (class: AAMI N, S, V, F or Q).
    Detect {
        /// WFDB record (path without extension), e.g. testdata/mitdb/100.
        record: PathBuf,
    },
    /// Replay stored ECG (or a WFDB record) through a candidate policy; prints the alerts.
    Backtest(cardiowatch::backtest::BacktestArgs),
    /// The monitoring report of a patient's stored range (at most a day) as a PDF, or its
    /// figures as JSON: the same as `GET /v1/patients/{id}/report` (docs/reports.md).
    Report(cardiowatch::report::ReportArgs),
    /// Score the analysis on every annotated WFDB record of a directory; prints EC57's
    /// tables (beats, episodes, alarms by rule, onset delays) per record and gross.
    Ec57(cardiowatch::ec57::Ec57Args),
    /// Replay a WFDB numerics record through the vital-sign rules of the shipped defaults;
    /// prints alarms per hour per rule for each hold compared.
    VitalsAlarms(cardiowatch::vitals_alarms::VitalsAlarmsArgs),
    /// Benchmarks printing numbers (`detect`: beat detector throughput on one core).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// The audit trail (`verify`: check the hash chain; exits 1 when tampered with).
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Accounts (`set-login`: role and password, password from CW_PASSWORD or the file
    /// CW_PASSWORD_FILE names; `disable` / `enable`: cut an account off at once, or let
    /// it back in).
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// The embedded store (`encrypt`: encrypt a store from before encryption in place
    /// with the configured key; stop the services using it first).
    Store {
        #[command(subcommand)]
        what: StoreCommand,
    },
    /// PHI master keys (`rotate`: re-wrap every record under `phi.key_id`).
    Keys {
        #[command(subcommand)]
        what: KeysCommand,
    },
    /// Alarm-fatigue report: alarms per patient/rule/day, ack rate, median time-to-ack.
    Fatigue {
        #[command(flatten)]
        store: StoreArgs,
        /// Days back from now to report.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Print JSON instead of CSV rows and a summary line.
        #[arg(long)]
        json: bool,
    },
    /// Issue a short-lived access token (reads CW_AUTH__JWT_SECRET or the file
    /// CW_AUTH__JWT_SECRET_FILE names).
    Token {
        /// The user id the token is for (its `sub`).
        #[arg(long)]
        user: String,
        /// doctor, admin or ops.
        #[arg(long, value_parser = parse_role, default_value = "doctor")]
        role: Role,
        /// The api's HS256 secret (`auth.jwt_secret`); prefer the environment variable
        /// (one of the two is needed; a flag shows in the process list).
        #[arg(long, env = "CW_AUTH__JWT_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// A file holding the secret instead (e.g. the compose secret
        /// deploy/secrets/jwt_secret).
        #[arg(long, env = "CW_AUTH__JWT_SECRET_FILE")]
        secret_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// N real-time patients, HR step 80 → 120 bpm: sample → first provider request p50/p99.
    Alerts(cardiowatch::bench_alerts::BenchAlertsArgs),
    /// Points/s straight to InfluxDB vs through ingest over TLS; prints `ratio=<b/a>` last.
    Ingest(cardiowatch::bench_ingest::BenchIngestArgs),
    /// Bytes on disk per ECG sample of a real record, in InfluxDB after compaction and
    /// in the embedded file, and per patient-year (docs/operations.md).
    Storage(cardiowatch::bench_storage::BenchStorageArgs),
    /// p50/p99 of the alert list and a 10 s ECG window with N concurrent doctors.
    Api(cardiowatch::bench_api::BenchApiArgs),
    /// Notifier deliveries/s to the local Twilio sandbox, and the latency a
    /// high-priority fan-out to every channel adds (p50/p99).
    Notify(cardiowatch::bench_notify::BenchNotifyArgs),
    /// N real-time patients × V live WebSockets each: sent → socket p50/p99 for HR
    /// and ECG messages, and messages dropped.
    Live(cardiowatch::bench_live::BenchLiveArgs),
    /// Patients analysed in real time per engine core, and 1 → 2 → 3 engines side by
    /// side: engine threads splitting the shards by the lease plan (docs/scaling.md).
    Engines(cardiowatch::bench_engines::BenchEnginesArgs),
    /// Detector frames/s and lead-samples/s over a folder of WFDB records.
    Detect {
        /// Folder of WFDB records (every `.hea` in it).
        #[arg(long, default_value = "testdata/mitdb")]
        data: PathBuf,
        /// Passes over the folder; the rates are over all of them.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Encrypt a clear embedded store (from before encryption) with storage.key_file /
    /// CW_STORAGE__KEY_HEX, or the data dir's store.key.
    Encrypt {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every audit event's hash and link; names edited, deleted and moved records.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Archive files (`audit archive`), oldest first: verified with the live log as
        /// one chain.
        #[arg(long = "archive", value_name = "FILE")]
        archives: Vec<PathBuf>,
    },
    /// Move audit events older than --before-days from the live store into a new archive
    /// file (never the newest event); keep every archive: `verify` needs them all.
    Archive {
        #[command(flatten)]
        store: StoreArgs,
        /// Archive the events older than this many days.
        #[arg(long, value_name = "DAYS")]
        before_days: u32,
        /// The new archive file (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create or replace a user's login (argon2id hash in the configured store).
    SetLogin {
        /// The user id to sign in as.
        #[arg(long)]
        user: String,
        /// doctor, admin or ops.
        #[arg(long, value_parser = parse_role, default_value = "doctor")]
        role: Role,
        /// 12 to 1024 characters; prefer the environment variable (a flag's value is
        /// visible to other users in the process list).
        #[arg(long, env = "CW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// A file holding the password instead (a secret file).
        #[arg(long, env = "CW_PASSWORD_FILE")]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an account: its tokens, logins, refreshes and live sockets stop working.
    Disable {
        /// The user id.
        user: String,
        /// Why (3–500 characters): kept in the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set the phone (E.164) and email the notifier pages a user on, and their role
    /// (needed for a new user without a login); options left out keep what is stored.
    SetContact {
        /// The user id.
        user: String,
        /// E.164: '+' then 8 to 15 digits, e.g. +15005550006.
        #[arg(long)]
        phone: Option<String>,
        /// A plain address, e.g. dr.house@hospital.example.
        #[arg(long)]
        email: Option<String>,
        /// doctor, admin or ops (a new user takes its login's role when left out).
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a disabled account again.
    Enable {
        /// The user id.
        user: String,
        /// Why: kept in the audit log.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-wrap PHI data keys under the current master key (old key in previous_keys).
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_role(raw: &str) -> Result<Role, String> {
    match raw {
        "doctor" => Ok(Role::Doctor),
        "admin" => Ok(Role::Admin),
        "ops" => Ok(Role::Ops),
        _ => Err("role is doctor, admin or ops".into()),
    }
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Demo {
                data_dir,
                record,
                speed,
                seconds,
                hr_high,
                vitals,
                no_vitals,
                phone_ack,
                phone_after,
            } => {
                let shutdown = cw_runtime::shutdown_on_signal();
                demo::run(
                    DemoOptions {
                        data_dir,
                        record,
                        speed,
                        duration: seconds.map(Duration::from_secs),
                        hr_high_bpm: hr_high,
                        vitals: (!no_vitals).then_some(
                            cardiowatch::gateway_vitals::VitalsOptions {
                                source: cardiowatch::gateway_vitals::VitalsSource::Record(vitals),
                                step_s: Some(1.0),
                                offset_s: 1375.0 * 60.0,
                            },
                        ),
                        phone_ack,
                        phone_after: Duration::from_secs(phone_after),
                    },
                    shutdown,
                )
                .await
            }
            Command::Gateway(args) => cardiowatch::gateway_command::run(args).await,
            Command::Health(args) => cardiowatch::health::run(args).await,
            Command::MongoUsers(args) => cardiowatch::mongo_users::run(args).await,
            Command::ConfigDoc(args) => cardiowatch::config_doc::run(args),
            Command::Device { store, what } => {
                let records = cardiowatch::devices::open_records(&store).await?;
                cardiowatch::devices::run(what, records.as_ref()).await
            }
            Command::Detect { record } => detect(&record),
            Command::Backtest(args) => cardiowatch::backtest::run(args).await,
            Command::Report(args) => cardiowatch::report::run(args).await,
            Command::Ec57(args) => {
                tokio::task::spawn_blocking(|| cardiowatch::ec57::run(args)).await?
            }
            Command::VitalsAlarms(args) => cardiowatch::vitals_alarms::run(args),
            Command::Bench {
                what: BenchCommand::Detect { data, rounds },
            } => cardiowatch::bench::detect(&data, rounds),
            Command::Bench {
                what: BenchCommand::Ingest(args),
            } => cardiowatch::bench_ingest::run(args).await,
            Command::Bench {
                what: BenchCommand::Alerts(args),
            } => cardiowatch::bench_alerts::run(args).await,
            Command::Bench {
                what: BenchCommand::Storage(args),
            } => cardiowatch::bench_storage::run(args).await,
            Command::Bench {
                what: BenchCommand::Api(args),
            } => cardiowatch::bench_api::run(args).await,
            Command::Bench {
                what: BenchCommand::Notify(args),
            } => cardiowatch::bench_notify::run(args).await,
            Command::Bench {
                what: BenchCommand::Live(args),
            } => cardiowatch::bench_live::run(args).await,
            Command::Bench {
                what: BenchCommand::Engines(args),
            } => cardiowatch::bench_engines::run(args),
            Command::Fatigue { store, days, json } => {
                cardiowatch::fatigue::run(&store, days, json).await
            }
            Command::Store {
                what: StoreCommand::Encrypt { store },
            } => cardiowatch::store_encrypt::run(&store).await,
            Command::Audit {
                what: AuditCommand::Verify { store, archives },
            } => {
                if !cardiowatch::audit::verify(&store, &archives).await? {
                    std::process::exit(1);
                }
                Ok(())
            }
            Command::Audit {
                what:
                    AuditCommand::Archive {
                        store,
                        before_days,
                        out,
                    },
            } => cardiowatch::audit::archive(&store, before_days, &out).await,
            Command::User {
                what:
                    UserCommand::SetLogin {
                        user,
                        role,
                        password,
                        password_file,
                        store,
                    },
            } => {
                let password = cardiowatch::secret_arg::resolve(
                    password,
                    password_file.as_deref(),
                    "--password (CW_PASSWORD) / --password-file (CW_PASSWORD_FILE)",
                )?
                .context("give the password: CW_PASSWORD, CW_PASSWORD_FILE or --password-file")?;
                cardiowatch::users::set_login(&store, &user, role, password).await
            }
            Command::User {
                what:
                    UserCommand::Disable {
                        user,
                        reason,
                        store,
                    },
            } => cardiowatch::users::set_disabled(&store, &user, true, Some(reason)).await,
            Command::User {
                what:
                    UserCommand::Enable {
                        user,
                        reason,
                        store,
                    },
            } => cardiowatch::users::set_disabled(&store, &user, false, reason).await,
            Command::User {
                what:
                    UserCommand::SetContact {
                        user,
                        phone,
                        email,
                        role,
                        store,
                    },
            } => cardiowatch::users::set_contact(&store, &user, role, phone, email).await,
            Command::Keys {
                what: KeysCommand::Rotate { store },
            } => {
                let done = cardiowatch::keys::rotate(&store).await?;
                println!(
                    "re-wrapped {} records; {} were already under the current key",
                    done.rewrapped, done.current
                );
                Ok(())
            }
            Command::Token {
                user,
                role,
                secret,
                secret_file,
            } => {
                let user = UserId::parse(&user).context("--user")?;
                let secret = cardiowatch::secret_arg::resolve(
                    secret,
                    secret_file.as_deref(),
                    "--secret (CW_AUTH__JWT_SECRET) / --secret-file (CW_AUTH__JWT_SECRET_FILE)",
                )?
                .context(
                    "no signing secret: set CW_AUTH__JWT_SECRET (the api's auth.jwt_secret; \
                     the demo keeps it in its data dir as jwt.secret) or CW_AUTH__JWT_SECRET_FILE, \
                     or pass --secret or --secret-file",
                )?;
                println!(
                    "{}",
                    cw_api::token::issue(
                        secret.as_bytes(),
                        "cardiowatch",
                        &user,
                        role,
                        cw_api::token::ACCESS_TTL_S
                    )?
                );
                Ok(())
            }
        }
    }
}

fn detect(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let record =
        cw_wfdb::Record::open(path).with_context(|| format!("reading {}", path.display()))?;
    let beats = cw_detect::classify_all(
        record.fs,
        record.signal_count(),
        &record.microvolts_interleaved(),
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = (|| {
        writeln!(out, "sample,time_s,class")?;
        for beat in beats {
            let sample = beat.sample;
            writeln!(
                out,
                "{sample},{:.3},{}",
                sample as f64 / record.fs,
                beat.class
            )?;
        }
        out.flush()
    })();
    match written {
        // The reader stopped early (`| head`): that is its choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
