//! The whole documented API fuzzed by schemathesis from `/v1/openapi.json` (issue 22), as an
//! operator and anonymously, rate limits lifted so every operation is reached: no request may get
//! a 5xx. A bounded run (a few examples per operation, fixed seed); `scripts/fuzz-api` runs longer
//! with every check. `scripts/test` installs schemathesis (`ensure_schemathesis`).

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

fn fuzz(s: &Stack, token: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new("st");
    cmd.args([
        "run",
        &format!("{}/v1/openapi.json", s.api),
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "12",
        "--seed",
        "7",
        "--phases",
        "examples,fuzzing",
        "--workers",
        "2",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .output()
        .expect("schemathesis (`st`) on PATH: scripts/test installs it (ensure_schemathesis)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_documented_operation_answers_5xx() {
    let mut s = Stack::new("fuzz").await;
    s.start_all().await;
    let (st, v) = s
        .ingest(&title(
            "tt0113277",
            "Heat",
            1995,
            json!([offer("netflix", "subscription", None)]),
        ))
        .await;
    assert_eq!(st, 200, "{v}");
    let admin = s.admin_token();
    let (ok, report) = tokio::task::block_in_place(|| fuzz(&s, Some(&admin)));
    assert!(ok, "fuzzing as an operator found server errors:\n{report}");
    assert!(report.contains("Tested:"), "{report}");
    let (ok, report) = tokio::task::block_in_place(|| fuzz(&s, None));
    assert!(ok, "fuzzing anonymously found server errors:\n{report}");
}
