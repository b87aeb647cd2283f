//! What an operator makes before `docker compose up`, following deploy/README.md: the
//! files git does not hold (`deploy/certs`, `deploy/secrets`) and the `.env` values.
//! Kept in a directory of its own that overlays the repository (never written into it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The test stand-in for the Twilio account an operator configures.
pub const TWILIO_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
pub const TWILIO_FROM_NUMBER: &str = "+15005550006";

pub struct Operator {
    /// `deploy/.env`: what compose interpolates.
    pub env: BTreeMap<String, String>,
    dir: tempfile::TempDir,
}

impl Operator {
    /// deploy/README.md's steps: dev certificates, `deploy/make-secrets.sh`, the Twilio
    /// auth token file, and `.env`.
    pub fn following_the_readme(repo: &Path) -> Operator {
        let dir = tempfile::tempdir().expect("temp dir");
        // deploy/make-dev-certs.sh writes the same files (ca.pem, server.pem,
        // server-key.pem for localhost and 127.0.0.1); the library is quicker.
        cw_tls::ensure_dev_certs(&dir.path().join("deploy/certs")).expect("dev certificates");
        let secrets = dir.path().join("deploy/secrets");
        let script = repo.join("deploy/make-secrets.sh");
        let made = Command::new("bash")
            .arg(&script)
            .arg(&secrets)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(
            made.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&made.stderr)
        );
        std::fs::write(
            secrets.join("twilio_auth_token"),
            "compose-test-auth-token\n",
        )
        .expect("twilio token written");
        let operator = Operator {
            env: BTreeMap::new(),
            dir,
        };
        let user_password = operator.secret("influx_password");
        let mut env = BTreeMap::new();
        for (var, value) in [
            (
                "CW_INFLUXDB_ADMIN_PASSWORD",
                cw_bus::Sealer::generate_key_hex(),
            ),
            ("CW_INFLUXDB_USER_PASSWORD", user_password),
            ("CW_TWILIO__ACCOUNT_SID", TWILIO_ACCOUNT_SID.to_owned()),
            ("CW_TWILIO__FROM_NUMBER", TWILIO_FROM_NUMBER.to_owned()),
        ] {
            env.insert(var.to_owned(), value);
        }
        Operator { env, ..operator }
    }

    /// The project directory's files the operator made (`deploy/certs`, `deploy/secrets`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The content of secret file `name`, as the services read it.
    pub fn secret(&self, name: &str) -> String {
        let path = self.secret_path(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim_end()
            .to_owned()
    }

    pub fn secret_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("deploy/secrets").join(name)
    }

    /// Forgets to make one secret file.
    pub fn remove_secret(&self, name: &str) {
        std::fs::remove_file(self.secret_path(name)).expect("secret file removed");
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("deploy/certs/ca.pem")
    }
}
