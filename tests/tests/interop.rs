//! Interoperability: openid-client, an independent strict OpenID Connect relying-party
//! library, drives the real `eid-server serve` (on PostgreSQL and Redis) through whole
//! sessions with `tests/interop/flow.mjs`, once per client authentication method.
//!
//! Needs Node with `npm ci --prefix tests/interop` done, PostgreSQL and Redis: when one is
//! missing the test fails if `CI=true` and otherwise prints `skipping: …` and passes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use eid_core::registry::RegisterRecord;
use eid_e2e::availability::unavailable;
use eid_e2e::citizen::{citizen, register_claims};
use eid_e2e::clients::{Auth, Rp};
use eid_e2e::daemon::free_port;
use eid_e2e::deployment::Deployment;
use eid_e2e::node::{node_ready, package_dir};
use eid_e2e::random::random_text;
use eid_e2e::stores::{StoreUrls, Stores};

/// The script's environment for a client's authentication.
fn auth_env(auth: &Auth) -> Vec<(&'static str, String)> {
    let mut env = vec![("EID_CLIENT_AUTH", auth.method().to_owned())];
    match auth {
        Auth::Secret { secret, .. } => env.push(("EID_CLIENT_SECRET", secret.clone())),
        Auth::PrivateKeyJwt { key_file, .. } => {
            env.push(("EID_CLIENT_KEY_FILE", key_file.display().to_string()))
        }
        Auth::None => {}
    }
    env
}

/// One run of the script: `rp` requests `scope`, over PAR if `par`.
struct Flow<'a> {
    rp: &'a Rp,
    scope: &'static str,
    par: bool,
}

/// Runs flow.mjs; returns the `sub` it received, failing with its output otherwise.
fn run_flow(flow: &Flow, issuer: &str, record: &RegisterRecord, password: &str) -> String {
    let out = Command::new("node")
        // `localhost` is the issuer's host; the daemon listens on IPv4 only.
        .args(["--dns-result-order=ipv4first", "flow.mjs"])
        .current_dir(package_dir("interop"))
        .env("EID_ISSUER", issuer)
        .env("EID_CLIENT_ID", flow.rp.client_id)
        .envs(auth_env(&flow.rp.auth))
        .env("EID_REDIRECT_URI", flow.rp.redirect_uri())
        .env(
            "EID_POST_LOGOUT_REDIRECT_URI",
            flow.rp.post_logout_redirect_uri(),
        )
        .env("EID_PERSONAL_ID", record.personal_id.expose())
        .env("EID_PASSWORD", password)
        .env("EID_SCOPE", flow.scope)
        .env("EID_PAR", if flow.par { "1" } else { "0" })
        .env("EID_EXPECTED_CLAIMS", register_claims(record).to_string())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "flow.mjs failed for {} ({}):\n{stdout}{}",
        flow.rp.client_id,
        flow.scope,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("done ")?
                .split_once(" sub=")
                .map(|(_, s)| s)
        })
        .expect("a done line with the sub")
        .to_owned()
}

/// Everything after the stores are ready: register, configuration, enrolment, the daemon
/// and the script runs.
fn interoperate(dir: &Path, stores: &StoreUrls) {
    let port = free_port();
    let deployment = Deployment::new(dir, stores, format!("http://localhost:{port}"));
    let rps = [
        Rp {
            client_id: "rp-basic",
            auth: Auth::secret("client_secret_basic"),
            scopes: &["openid", "profile", "birthdate", "gender"],
            require_par: false,
        },
        Rp {
            client_id: "rp-jwt",
            auth: Auth::private_key_jwt(dir.join("rp-jwt.jwk.json")),
            scopes: &["openid", "birthdate", "personal_id"],
            require_par: false,
        },
        Rp {
            client_id: "rp-post",
            auth: Auth::secret("client_secret_post"),
            scopes: &["openid", "profile", "address"],
            require_par: true,
        },
        Rp {
            client_id: "rp-public",
            auth: Auth::None,
            scopes: &["openid", "gender"],
            require_par: false,
        },
    ];
    let config = deployment.write_config(port, &rps);

    let record = citizen();
    let password = random_text();
    deployment.enrol(&config, &record, &password);

    let daemon = deployment.start(&config);
    let [basic, jwt, post, public] = &rps;
    let flows = [
        Flow {
            rp: basic,
            scope: "openid profile birthdate gender",
            par: false,
        },
        Flow {
            rp: jwt,
            scope: "openid birthdate personal_id",
            par: false,
        },
        Flow {
            rp: basic,
            scope: "openid profile",
            par: true,
        },
        Flow {
            rp: post,
            scope: "openid profile address",
            par: true,
        },
        Flow {
            rp: public,
            scope: "openid gender",
            par: false,
        },
    ];
    let subs: Vec<String> = flows
        .iter()
        .map(|flow| run_flow(flow, deployment.issuer(), &record, &password))
        .collect();
    daemon.stop();

    // OIDC Core 8.1: pairwise `sub`s are stable for a sector and differ between sectors.
    assert_eq!(subs[0], subs[2], "rp-basic got two subs for one citizen");
    let distinct: BTreeSet<_> = [&subs[0], &subs[1], &subs[3], &subs[4]]
        .into_iter()
        .collect();
    assert_eq!(
        distinct.len(),
        4,
        "one sub shared between sectors: {subs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_completes_every_flow() {
    if let Err(err) = node_ready(&package_dir("interop"), "openid-client") {
        return unavailable("Node with tests/interop's packages", err);
    }
    if let Some(stores) = Stores::prepare("interop").await {
        stores.run(interoperate).await;
    }
}
