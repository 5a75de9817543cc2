//! OpenTelemetry traces end to end: a local OTLP/gRPC collector (a test double that decodes the
//! real OTLP protobuf) receives the spans of two `mediagw` processes, and one trace id spans the
//! caller's `traceparent` → `POST /internal/ingest` → event store commit → relay publish (another
//! process, through the outbox) → catalog projector apply (through Kafka headers). Log lines inside
//! the request carry the same trace id; gRPC calls continue a caller's trace too.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use mediagw_query_api::grpc::pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use pb::content_service_client::ContentServiceClient;
use serde_json::json;

#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    /// The exporting process's `mediagw.roles` resource attribute.
    roles: String,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut got = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let roles = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "mediagw.roles")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                got.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    roles: roles.clone(),
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn start_collector() -> (SocketAddr, Collector) {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = TraceServiceServer::new(collector.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream_of(listener))
            .await
            .unwrap();
    });
    (addr, collector)
}

fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    })
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_request_relay_and_projector_across_processes() {
    let (addr, collector) = start_collector().await;
    let mut s = Stack::new("traces").await;
    s.set_env("MEDIAGW__OTEL__ENDPOINT", &format!("http://{addr}"));
    // Unsampled new traces: only the caller's sampled `traceparent` is recorded.
    s.set_env("MEDIAGW__OTEL__SAMPLING_RATIO", "0.0");
    s.set_env("OTEL_BSP_SCHEDULE_DELAY", "200");
    // The access log line ("finished processing request") is written inside the request span.
    s.set_env("RUST_LOG", "info,tower_http=debug");
    s.set_env("MEDIAGW__LOG__FORMAT", "json");
    s.start("api,registry");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    s.start("relay,projector:catalog");

    let body = title("tt0133093", "The Matrix", 1999, json!([]));
    let r = s
        .http
        .post(format!("{}/internal/ingest", s.api))
        .header(
            "traceparent",
            format!("00-{CALLER_TRACE}-00f067aa0ba902b7-01"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<serde_json::Value>().await.unwrap()["content_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.eventually(30, "the title projected", || async {
        (s.get(&format!("/v1/content/{id}")).await.0 == 200).then_some(())
    })
    .await;

    let spans = s
        .eventually(
            30,
            "request, commit, publish and apply spans exported",
            || {
                let got = collector.0.lock().unwrap().clone();
                async move {
                    let trace: Vec<Span> = got
                        .into_iter()
                        .filter(|s| s.trace_id == CALLER_TRACE)
                        .collect();
                    let has = |n: &str| trace.iter().any(|s| s.name.starts_with(n));
                    (has("POST /internal/ingest")
                        && has("event store")
                        && has("relay publish")
                        && has("project"))
                    .then_some(trace)
                }
            },
        )
        .await;
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let named = |n: &str| spans.iter().find(|s| s.name.starts_with(n)).unwrap();
    let (http, publish, project) = (
        named("POST /internal/ingest"),
        named("relay publish"),
        named("project"),
    );
    // The request continues the caller's span; the chain is parent → child across processes.
    assert_eq!(http.parent_span_id, "00f067aa0ba902b7");
    assert!(http.roles.contains("api"), "{http:?}");
    assert!(
        publish.roles.contains("relay") && !publish.roles.contains("api"),
        "{publish:?}"
    );
    let commit = by_id[publish.parent_span_id.as_str()];
    assert!(commit.name.starts_with("event store"), "{commit:?}");
    let mut up = commit;
    while up.span_id != http.span_id {
        up = by_id
            .get(up.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("{up:?} does not lead back to the request: {spans:#?}"));
    }
    assert_eq!(project.parent_span_id, publish.span_id, "{spans:#?}");

    // Log lines written inside the request carry its trace and span ids, and the service.
    let log = std::fs::read_to_string(s.logs.join("api+registry.log")).unwrap();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["trace_id"] == CALLER_TRACE)
        .unwrap_or_else(|| panic!("no log line with the trace id:\n{log}"));
    assert_eq!(line["service"], "api,registry");
    assert!(
        by_id.contains_key(line["span_id"].as_str().unwrap()),
        "{line}"
    );

    // An untraced request (sampling ratio 0) leaves no spans and no trace context on its events.
    let before = collector.0.lock().unwrap().len();
    let (st, _) = s
        .ingest(&title("tt0103064", "Terminator 2", 1991, json!([])))
        .await;
    assert_eq!(st, 200);

    // gRPC: a caller's traceparent in the metadata is continued by the `grpc` span.
    let mut client = ContentServiceClient::connect(s.grpc.clone()).await.unwrap();
    let grpc_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut req = tonic::Request::new(pb::GetContentRequest {
        content_id: id.clone(),
    });
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{grpc_trace}-b7ad6b7169203331-01")
            .parse()
            .unwrap(),
    );
    client.get_content(req).await.unwrap();
    s.eventually(20, "the gRPC span exported", || {
        let got = collector.0.lock().unwrap().clone();
        async move {
            got.iter()
                .any(|s| s.trace_id == grpc_trace && s.parent_span_id == "b7ad6b7169203331")
                .then_some(())
        }
    })
    .await;
    let got = collector.0.lock().unwrap().clone();
    let unsampled: Vec<&Span> = got[before..]
        .iter()
        .filter(|s| s.trace_id != grpc_trace)
        .collect();
    assert!(
        unsampled.is_empty(),
        "unsampled request exported {unsampled:#?}"
    );
    let metadata: Vec<String> = sqlx::query_scalar(
        "SELECT metadata::text FROM events WHERE payload::text LIKE '%Terminator 2%'",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert!(!metadata.is_empty());
    for m in metadata {
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        let tp = v["traceparent"].as_str().unwrap_or("");
        assert!(
            tp.is_empty() || tp.ends_with("-00"),
            "an unsampled command stores at most an unsampled context: {m}"
        );
    }
}
