//! Passkeys in a real browser: Debian's Chromium with a DevTools virtual authenticator
//! (`tests/browser/passkeys.mjs`, driven by playwright-core) against the real
//! `eid-server serve` on PostgreSQL and Redis: enrolment, passwordless login (autofill),
//! a passkey for a typed number, step-up to a relying party's higher `acr` with the ID
//! token's `acr` and `amr` checked, and the refusals (second enrolment of the same
//! authenticator, replayed enrolment, expired ceremony, deleted passkey).
//!
//! Needs Chromium, Node with `npm ci --prefix tests/browser`, PostgreSQL and Redis: when
//! one is missing the test fails if `CI=true` and otherwise prints `skipping: …`.
//! `EID_SCREENSHOTS=dir` keeps screenshots of the pages (docs/screenshots is made so).

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use eid_e2e::availability::unavailable;
use eid_e2e::citizen::citizen;
use eid_e2e::clients::{Auth, Rp};
use eid_e2e::daemon::free_port;
use eid_e2e::deployment::Deployment;
use eid_e2e::node::{chromium_ready, node_ready, package_dir};
use eid_e2e::random::random_text;
use eid_e2e::stores::{StoreUrls, Stores};

/// The ceremony lifetime the daemon is given: the script waits it out once.
const CEREMONY_LIFETIME_SECS: u64 = 5;

fn run_browser(dir: &Path, stores: &StoreUrls) {
    let port = free_port();
    let deployment = Deployment::new(dir, stores, format!("http://localhost:{port}"));
    let secret = random_text();
    let rp = Rp {
        client_id: "rp-passkeys",
        auth: Auth::Secret {
            method: "client_secret_basic",
            secret: secret.clone(),
        },
        scopes: &["openid", "profile"],
        require_par: false,
    };
    let config = deployment.write_config(port, std::slice::from_ref(&rp));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .and_then(|mut file| {
            writeln!(
                file,
                "[passkeys]\nrp_name = \"eID test\"\nceremony_lifetime_secs = {CEREMONY_LIFETIME_SECS}"
            )
        })
        .expect("add the passkey settings");
    let record = citizen();
    let password = random_text();
    deployment.enrol(&config, &record, &password);
    let daemon = deployment.start(&config);

    let mut script = Command::new("node");
    script
        .arg("passkeys.mjs")
        .current_dir(package_dir("browser"))
        .env("EID_ISSUER", deployment.issuer())
        .env("EID_CLIENT_ID", rp.client_id)
        .env("EID_CLIENT_SECRET", &secret)
        .env("EID_REDIRECT_URI", rp.redirect_uri())
        .env("EID_PERSONAL_ID", record.personal_id.expose())
        .env("EID_PASSWORD", &password)
        .env(
            "EID_CEREMONY_LIFETIME_SECS",
            CEREMONY_LIFETIME_SECS.to_string(),
        );
    if let Ok(shots) = std::env::var("EID_SCREENSHOTS") {
        script.env("EID_SCREENSHOTS", shots);
    }
    let out = script.output().expect("run node");
    daemon.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.lines().any(|line| line == "done"),
        "passkeys.mjs failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn passkeys_work_in_a_real_browser() {
    let ready = chromium_ready().and(node_ready(&package_dir("browser"), "playwright-core"));
    if let Err(err) = ready {
        return unavailable("Chromium with tests/browser's packages", err);
    }
    if let Some(stores) = Stores::prepare("passkeys").await {
        stores.run(run_browser).await;
    }
}
