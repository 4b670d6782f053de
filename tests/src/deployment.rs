//! One eID service as a test deploys it: the generated register, a key-encryption key,
//! the shared stores and key ring, and the configuration of each of its instances.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64ct::{Base64, Encoding as _};
use eid_core::registry::RegisterRecord;

use crate::citizen::{CITIZENS, SEED};
use crate::clients::Rp;
use crate::daemon::{Daemon, run_admin};
use crate::random::random_bytes;
use crate::server_binary;
use crate::stores::StoreUrls;

/// A service whose instances all share one issuer, register, key ring, key-encryption key
/// and stores: any of them can serve any request.
pub struct Deployment {
    dir: PathBuf,
    stores: StoreUrls,
    issuer: String,
    kek: String,
}

impl Deployment {
    /// Generates the register (`registry generate`) in `dir` and a random key-encryption
    /// key; `issuer` is the public URL of every instance.
    pub fn new(dir: &Path, stores: &StoreUrls, issuer: String) -> Self {
        let kek = Base64::encode_string(&random_bytes::<32>());
        let out = Command::new(server_binary())
            .args(["registry", "generate", "--citizens", &CITIZENS.to_string()])
            .args(["--seed", &SEED.to_string(), "--out"])
            .arg(dir.join("register.sqlite"))
            .output()
            .expect("run registry generate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            dir: dir.to_owned(),
            stores: stores.clone(),
            issuer,
            kek,
        }
    }

    /// The issuer every instance names.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The generated register file.
    pub fn register_file(&self) -> PathBuf {
        self.dir.join("register.sqlite")
    }

    /// Writes the configuration of the instance listening on `port`, with `rps`, on the
    /// embedded register file.
    pub fn write_config(&self, port: u16, rps: &[Rp]) -> PathBuf {
        let register = format!("file = {:?}", self.register_file().display().to_string());
        self.write_config_with_register(port, rps, &register)
    }

    /// Writes the configuration of the instance listening on `port`, with `rps` and the
    /// `[register]` table's body `register`.
    pub fn write_config_with_register(&self, port: u16, rps: &[Rp], register: &str) -> PathBuf {
        let StoreUrls {
            durable,
            redis,
            prefix,
        } = &self.stores;
        let mut text = format!(
            "issuer = {issuer:?}\nlisten = \"127.0.0.1:{port}\"\n\
             [durable]\nurl = {durable:?}\n[ephemeral]\nurl = {redis:?}\nkey_prefix = {prefix:?}\n\
             [register]\n{register}\n[keys]\nfile = {keys:?}\n",
            issuer = self.issuer,
            keys = self.dir.join("keys.sealed").display().to_string(),
        );
        for rp in rps {
            text.push_str(&rp.toml());
        }
        let path = self.dir.join(format!("eid-{port}.toml"));
        std::fs::write(&path, text).expect("write the configuration");
        path
    }

    /// Enrols `record` with `password` (`accounts add`).
    pub fn enrol(&self, config: &Path, record: &RegisterRecord, password: &str) {
        self.enrol_with(config, record, password, "register-match");
    }

    /// Enrols `record` with `password` and the registrar's `evidence`
    /// (`accounts add --evidence …`).
    pub fn enrol_with(
        &self,
        config: &Path,
        record: &RegisterRecord,
        password: &str,
        evidence: &str,
    ) {
        run_admin(
            &self.kek,
            &[
                "accounts",
                "add",
                "--personal-id",
                &record.personal_id.expose(),
                "--evidence",
                evidence,
            ],
            config,
            &format!("{password}\n"),
        );
    }

    /// Runs the administration command `args` (e.g. `credentials revoke …`) against the
    /// deployment of `config`; returns what it printed.
    pub fn admin(&self, config: &Path, args: &[&str]) -> String {
        run_admin(&self.kek, args, config, "")
    }

    /// Starts the instance configured by `config` and waits until it is ready.
    pub fn start(&self, config: &Path) -> Daemon {
        Daemon::start(&self.kek, config)
    }
}
