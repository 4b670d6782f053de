//! Starts the real `eid-server demo` binary and drives it over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use eid_e2e::browser::{Browser, redirect};
use eid_e2e::server_binary;

/// A running demo daemon, killed on drop.
struct Demo {
    child: Child,
    base: String,
    banner: Vec<String>,
}

impl Demo {
    fn start(extra: &[&str]) -> Demo {
        let mut child = Command::new(server_binary())
            .args(["demo", "--port", "0", "--citizens", "500", "--seed", "3"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start eid-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut banner = Vec::new();
        let mut base = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read banner");
            if let Some(url) = line.trim().strip_prefix("issuer:") {
                base = Some(url.trim().to_owned());
            }
            let done = line.starts_with("ready");
            banner.push(line);
            if done {
                break;
            }
        }
        let base = base.unwrap_or_else(|| panic!("no issuer line in banner: {banner:#?}"));
        Demo {
            child,
            base,
            banner,
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn demo_serves_health_and_readiness_and_reports_register_size() {
    let demo = Demo::start(&[]);
    assert!(demo.base.starts_with("http://localhost:"), "{}", demo.base);
    assert!(
        demo.banner.iter().any(|l| l.contains("500 citizens")),
        "banner: {:#?}",
        demo.banner
    );
    assert!(
        demo.banner
            .iter()
            .any(|l| l.starts_with("self-enrolment: http://localhost:")),
        "banner: {:#?}",
        demo.banner
    );

    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", demo.base))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);

    let ready = client
        .get(format!("{}/readyz", demo.base))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("readiness JSON");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["register"]["ok"], true, "{body}");
    assert_eq!(body["checks"]["durable_store"]["ok"], true, "{body}");

    let metrics = client
        .get(format!("{}/metrics", demo.base))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.text().await.expect("metrics text");
    for line in [
        r#"eid_http_requests_total{method="GET",route="/healthz",status="200"} 1"#,
        r#"eid_http_requests_total{method="GET",route="/readyz",status="200"} 1"#,
        "# TYPE eid_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    let missing = client
        .get(format!("{}/no-such-page", demo.base))
        .send()
        .await
        .expect("GET unknown path");
    assert_eq!(missing.status(), 404);
    // Unknown paths are counted under one label, not one label per path.
    let text = client
        .get(format!("{}/metrics", demo.base))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains("no-such-page"), "{text}");
}

#[test]
fn demo_reuses_the_register_in_its_data_dir() {
    let dir = std::env::temp_dir().join(format!("eid-demo-{}", std::process::id()));
    let data_dir = dir.to_str().expect("utf-8 temp path");
    for _ in 0..2 {
        let demo = Demo::start(&["--data-dir", data_dir]);
        assert!(
            demo.banner.iter().any(|l| l.contains("500 citizens")),
            "banner: {:#?}",
            demo.banner
        );
    }
    let registers: Vec<_> = std::fs::read_dir(&dir)
        .expect("data dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sqlite"))
        .collect();
    assert_eq!(
        registers.len(),
        2,
        "one register file and one durable store"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn demo_refuses_bad_arguments_with_a_clear_message() {
    let out = Command::new(server_binary())
        .args(["demo", "--citizens", "many"])
        .output()
        .expect("run eid-server");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--citizens"), "{stderr}");
}

/// The value after `label` on the first banner line that has it.
fn banner_value(banner: &[String], label: &str) -> String {
    banner
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label:?} in banner: {banner:#?}"))
}

/// The text between `start` and the next `end` in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text}"))
        + start.len();
    let to = text[from..].find(end).expect("end marker") + from;
    &text[from..to]
}

#[tokio::test]
async fn a_newcomer_logs_in_with_the_printed_citizen_and_client() {
    let demo = Demo::start(&[]);
    let secret = banner_value(&demo.banner, "client_secret:");
    let citizen = demo
        .banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("citizen:"))
        .expect("a demo citizen")
        .to_owned();
    let (personal_id, password) = citizen.split_once(" password: ").expect("citizen line");
    let (personal_id, password) = (personal_id.trim(), password.trim());
    let authorize = demo
        .banner
        .iter()
        .map(|l| l.trim())
        .find(|l| l.contains("/authorize?"))
        .expect("an authorization URL")
        .to_owned();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let local = |path: &str| format!("{}{path}", demo.base);
    let mut browser = Browser::new(&http);
    let login = redirect(browser.get(&authorize).await).await;
    let form = browser.form(&local(&login)).await;
    let credentials = [("personal_id", personal_id), ("password", password)];
    let consent = browser.submit(&local("/login"), &form, &credentials).await;
    assert!(consent.starts_with("/consent"), "{consent}");
    let form = browser.form(&local(&consent)).await;
    let allow = [("decision", "allow")];
    let callback = browser.submit(&local("/consent"), &form, &allow).await;
    assert!(
        callback.starts_with(&format!("{}/demo/callback?code=", demo.base)),
        "{callback}"
    );

    // The demo's own relying party page shows the command that redeems the code.
    let page = http
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = between(&page, "-d code=", " ");
    let verifier = between(&page, "-d code_verifier=", " ");
    assert!(page.contains(&secret));
    let tokens: serde_json::Value = http
        .post(local("/token"))
        .basic_auth("demo-rp", Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &format!("{}/demo/callback", demo.base)),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let claims: serde_json::Value = http
        .get(local("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        claims["name"].is_string() && claims["sub"].is_string(),
        "{claims}"
    );
}
