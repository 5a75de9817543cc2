//! Operations contract: every metric a dashboard or alert rule in `infra/observability/` reads is
//! exported by a running `mediagw serve` (after the traffic that produces it), in a form
//! `promtool check metrics` accepts; the internal listener serves probes and metrics, the MCP
//! role serves `/mcp` alone.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;
use uuid::Uuid;

fn lines(path: &str) -> BTreeSet<String> {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Metric names in a Prometheus text exposition (histogram series under their base name).
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboards_and_alerts_read_is_exported() {
    let mut s = Stack::new("observe").await;
    // A tight anonymous tier, so one rejection shows up as a rate-limit count.
    s.set_env(
        "MEDIAGW__GATEWAY__RATE_LIMITS__ANONYMOUS__REQUESTS_PER_MINUTE",
        "2",
    );
    s.set_env("MEDIAGW__GATEWAY__RATE_LIMITS__ANONYMOUS__BURST", "2");
    s.start_all().await;

    let web = "https://www.netflix.com/title/70020185";
    let (st, v) = s
        .ingest(&title(
            "tt0113277",
            "Heat",
            1995,
            json!([{"platform": "netflix", "availability_type": "subscription",
                    "deep_link": web, "web_url": web}]),
        ))
        .await;
    assert_eq!(st, 200, "{v}");
    let heat = v["content_id"].as_str().unwrap().to_string();
    s.eventually(20, "the title in the catalog", || async {
        (s.count("SELECT count(*) FROM catalog.platform_availability")
            .await
            == 1)
            .then_some(())
    })
    .await;

    let (user, tv) = (Uuid::new_v4(), Uuid::new_v4());
    let token = s.token(user, "");
    let tv_token = s.token_for_device(user, tv);
    let (st, b) = post(&s, "/v1/search", &token, json!({"query": "heat"})).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = post(
        &s,
        &format!("/v1/user/{user}/feedback"),
        &token,
        json!({"content_id": heat, "event_type": "Watched", "completion_rate": 0.95}),
    )
    .await;
    assert!(st < 300, "{b}");
    let (st, b) = post(&s, "/v1/recommendations", &token, json!({"user_id": user})).await;
    assert_eq!(st, 200, "{b}");
    let now = chrono::Utc::now().timestamp_millis();
    let (st, b) = post(
        &s,
        "/v1/sync/merge",
        &token,
        json!({"device_id": tv, "operations": [{
            "operation_id": Uuid::new_v4(), "device_id": tv,
            "timestamp": {"physical_ms": now, "logical": 0, "device_id": tv},
            "operation_type": {"type": "WatchlistAdd", "content_id": heat, "tag": Uuid::new_v4()}}]}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = post(
        &s,
        "/v1/devices/register",
        &tv_token,
        json!({"device_name": "Living room", "device_type": "tizen",
               "capabilities": {"supports_4k": false, "supports_hdr": true,
                                "supports_dolby_atmos": false, "supported_platforms": ["netflix"]}}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, _) = call(
        &s,
        reqwest::Method::PUT,
        &format!("/v1/user/{user}/services"),
        &token,
        Some(json!({"region": "US", "services": [{"platform": "netflix"}]})),
    )
    .await;
    assert_eq!(st, 200);
    s.eventually(20, "a playback session starts", || async {
        let (st, _) = post(
            &s,
            "/v1/playback/initiate",
            &token,
            json!({"content_id": heat, "device_id": tv}),
        )
        .await;
        (st == 200).then_some(())
    })
    .await;
    // A refused token and an anonymous caller over its budget.
    assert_eq!(get(&s, "/v1/devices", "not-a-token").await.0, 401);
    let (mut limited, anonymous) = (false, reqwest::Client::new());
    for _ in 0..6 {
        let r = anonymous
            .get(format!("{}/v1/search/trending", s.api))
            .send()
            .await
            .unwrap();
        limited |= r.status() == 429;
    }
    assert!(limited, "the anonymous tier answers 429 past its burst");
    // One gRPC call (signed in: the anonymous budget of this address is spent above, and gRPC
    // answers to the same gateway).
    let mut grpc =
        mediagw_query_api::grpc::pb::content_service_client::ContentServiceClient::connect(
            s.grpc.clone(),
        )
        .await
        .unwrap();
    let mut call = tonic::Request::new(mediagw_query_api::grpc::pb::GetContentRequest {
        content_id: heat.clone(),
    });
    call.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", s.token(uuid::Uuid::new_v4(), ""))
            .parse()
            .unwrap(),
    );
    let _ = grpc.get_content(call).await;

    let wanted: BTreeSet<String> = lines("infra/observability/referenced-metrics.txt")
        .difference(&lines("infra/observability/external-metrics.txt"))
        .cloned()
        .collect();
    let ops = s.ops.clone();
    let text = s
        .eventually(30, "every referenced metric exported", || async {
            let text = s
                .http
                .get(format!("{ops}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            wanted.is_subset(&exported(&text)).then_some(text)
        })
        .await;
    assert!(
        text.contains("grpc_server_handled_total{") && text.contains("status=\"OK\""),
        "{text}"
    );
    assert!(text.contains("playback_initiated_total{") && text.contains("platform=\"netflix\""));

    // promtool (Debian's `prometheus` package; scripts/test installs it) lints the exposition.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool on PATH (scripts/test installs Debian's prometheus package)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_role_serves_mcp_alone_and_every_role_answers_probes() {
    let mut s = Stack::new("mcp_role").await;
    let ops = Stack::free_port();
    s.start_as(
        "mcp",
        "mcp",
        &[("MEDIAGW__HTTP__INTERNAL_ADDR", format!("127.0.0.1:{ops}"))],
    );
    s.wait_http(&format!("http://127.0.0.1:{ops}/health/ready"))
        .await;
    // The agent catalogue is public; the catalog API is not served by this role.
    let (st, tools) = s.get("/mcp/tools").await;
    assert_eq!(st, 200, "{tools}");
    assert!(!tools["tools"].as_array().unwrap().is_empty());
    let (st, _) = s.get("/v1/search/trending").await;
    assert!(
        matches!(st, 401 | 404),
        "the catalog API is not this role's: {st}"
    );
    let (st, _) = s.get("/health/live").await;
    assert_eq!(st, 200);
}
