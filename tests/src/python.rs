//! The outside SAML service provider, `tests/saml/sp.py` (pysaml2): whether it can run,
//! and running its steps.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::daemon::run_with_stdin;

/// `tests/saml`.
pub fn saml_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("saml")
}

/// The Python with pysaml2: `tests/saml/.venv` when `.ci/run` made it, else `python3`.
pub fn python() -> PathBuf {
    let venv = saml_dir().join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Whether Python with pysaml2 and Debian's `xmlsec1` (which pysaml2 calls) are there
/// (else why not).
pub fn pysaml2_ready() -> Result<(), String> {
    let out = Command::new(python())
        .args(["-c", "import saml2"])
        .output()
        .map_err(|err| format!("{}: {err}", python().display()))?;
    if !out.status.success() {
        return Err(format!(
            "pysaml2 is not installed: run `python3 -m venv tests/saml/.venv && \
             tests/saml/.venv/bin/pip install -r tests/saml/requirements.txt` ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if !Path::new("/usr/bin/xmlsec1").exists() {
        return Err("/usr/bin/xmlsec1 missing: install Debian's xmlsec1".to_owned());
    }
    Ok(())
}

/// One service provider run by `sp.py`, identified by its environment.
pub struct ServiceProvider {
    env: Vec<(&'static str, String)>,
}

impl ServiceProvider {
    /// An SP `name` with its key in `dir`, for the identity provider at `issuer`; its
    /// metadata offers its key for encryption when `encrypted`.
    pub fn new(dir: &Path, name: &str, issuer: &str, encrypted: bool) -> Self {
        let keys = dir.join(name);
        std::fs::create_dir_all(&keys).expect("a key directory");
        let sp = format!("http://localhost:8443/{name}");
        let sp = Self {
            env: vec![
                ("SP_ENTITY_ID", format!("{sp}/metadata")),
                ("SP_ACS_URL", format!("{sp}/acs")),
                ("SP_SLO_URL", format!("{sp}/slo")),
                ("SP_KEY", keys.join("sp.key").display().to_string()),
                ("SP_CERT", keys.join("sp.crt").display().to_string()),
                (
                    "IDP_METADATA",
                    dir.join("idp-metadata.xml").display().to_string(),
                ),
                ("IDP_SSO_URL", format!("{issuer}/saml/sso")),
                ("IDP_SLO_URL", format!("{issuer}/saml/slo")),
                (
                    "SP_ENCRYPTION",
                    if encrypted { "1" } else { "0" }.to_owned(),
                ),
            ],
        };
        sp.run_text(&["keys", &keys.display().to_string()], "");
        sp
    }

    /// Its entity ID.
    pub fn entity_id(&self) -> &str {
        &self.env[0].1
    }

    /// The same SP under another entity ID (one the identity provider does not know).
    pub fn renamed(&self, entity_id: &str) -> Self {
        let mut env = self.env.clone();
        env[0].1 = entity_id.to_owned();
        Self { env }
    }

    /// Runs `sp.py args` with `stdin`; its standard output.
    pub fn run_text(&self, args: &[&str], stdin: &str) -> String {
        let mut command = Command::new(python());
        command
            .arg(saml_dir().join("sp.py"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        let out = run_with_stdin(&mut command, stdin);
        assert!(
            out.status.success(),
            "sp.py {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs `sp.py args` with `stdin`; its JSON output.
    pub fn run(&self, args: &[&str], stdin: &str) -> Value {
        let text = self.run_text(args, stdin);
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("sp.py {args:?}: not JSON: {text}"))
    }
}
