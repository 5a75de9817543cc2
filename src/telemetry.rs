//! Logging, tracing and metrics set-up. Every log line passes a masker before it is written (personal data
//! and credentials never reach the log); JSON lines carry the process's `service`, and so does
//! every metric (a global label).

use std::io::{self, IsTerminal};
use std::sync::Arc;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use regex::Regex;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, OtelConfig};

/// Replaces personal data and credentials in a log line.
pub struct Masker {
    rules: Vec<(Regex, &'static str)>,
    ipv4: Option<Regex>,
    ipv6: Option<Regex>,
}

impl Masker {
    pub fn new(mask_ips: bool) -> Self {
        let rules = vec![
            (
                r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
                "[token]",
            ),
            (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+", "Bearer [token]"),
            (
                r#"(?i)\b((?:password|passwd|secret|client_secret|api_key|apikey|access_token|refresh_token|token|authorization|cookie)\\?"?\s*[=:]\s*\\?"?)[^\s",}\\]+"#,
                "${1}[masked]",
            ),
            (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[email]"),
        ];
        Self {
            rules: rules
                .into_iter()
                .map(|(re, with)| (Regex::new(re).expect("static pattern"), with))
                .collect(),
            ipv4: mask_ips.then(|| {
                Regex::new(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}\b").expect("static pattern")
            }),
            // Full (8 groups) or compressed (`::`) forms; a candidate is masked only if it parses.
            // Timestamps (`15:10:32`) have neither.
            ipv6: mask_ips.then(|| {
                Regex::new(
                    r"(?i)(?:\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|(?:\b[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6}\b)?)",
                )
                .expect("static pattern")
            }),
        }
    }

    pub fn mask(&self, line: &str) -> String {
        let mut out = line.to_string();
        for (re, with) in &self.rules {
            if re.is_match(&out) {
                out = re.replace_all(&out, *with).into_owned();
            }
        }
        if let Some(re) = self.ipv4.as_ref().filter(|re| re.is_match(&out)) {
            // The last octet of a public address goes: enough to tell networks apart, not people.
            // Loopback, private and unspecified addresses are ours (listeners, brokers), not users'.
            out = re
                .replace_all(&out, |c: &regex::Captures| {
                    let octet = |i: usize| c[i].parse::<u16>().unwrap_or(0);
                    let (a, b) = (octet(1), octet(2));
                    let internal = matches!(a, 0 | 10 | 127)
                        || (a == 172 && (16..32).contains(&b))
                        || (a == 192 && b == 168);
                    if internal {
                        c[0].to_string()
                    } else {
                        format!("{}.{}.{}.x", &c[1], &c[2], &c[3])
                    }
                })
                .into_owned();
        }
        if let Some(re) = self.ipv6.as_ref().filter(|re| re.is_match(&out)) {
            // A public IPv6 address keeps its /64 (the network), not the interface id.
            out = re
                .replace_all(&out, |c: &regex::Captures| {
                    let m = c.get(0).expect("whole match");
                    // Part of an identifier or path (`api::add`), not an address.
                    let ident = |ch: Option<char>| {
                        ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_' || ch == ':')
                    };
                    if ident(out[..m.start()].chars().next_back())
                        || ident(out[m.end()..].chars().next())
                    {
                        return c[0].to_string();
                    }
                    match c[0].parse::<std::net::Ipv6Addr>() {
                        Ok(ip) if !internal_v6(&ip) => {
                            let s = ip.segments();
                            format!("{:x}:{:x}:{:x}:{:x}:x:x:x:x", s[0], s[1], s[2], s[3])
                        }
                        _ => c[0].to_string(),
                    }
                })
                .into_owned();
        }
        out
    }
}

/// Loopback, unspecified, link-local (fe80::/10) and unique-local (fc00::/7) addresses are the
/// deployment's own, not users'.
fn internal_v6(ip: &std::net::Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback() || ip.is_unspecified() || first & 0xffc0 == 0xfe80 || first & 0xfe00 == 0xfc00
}

/// Writes each formatted event through the [`Masker`]; JSON events get `"service"` first.
#[derive(Clone)]
struct MaskedStderr {
    masker: Arc<Masker>,
    json_service: Option<Arc<str>>,
}

impl io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut line = self.masker.mask(&text);
        if let (Some(service), true) = (&self.json_service, line.starts_with('{')) {
            line.insert_str(1, &format!("\"service\":{:?},", service.as_ref()));
        }
        io::stderr().lock().write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Exports the process's spans until [`Traces::shutdown`] flushes what is still buffered.
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    /// Blocks until buffered spans are exported (or the export timeout passes).
    pub fn shutdown(self) {
        if let Some(provider) = self.0 {
            if let Err(e) = provider.shutdown() {
                eprintln!("trace export at shutdown failed: {e}");
            }
        }
    }
}

/// Logs (masked; JSON lines carry `service`, and `trace_id`/`span_id` inside a traced span) and,
/// when `otel.endpoint` is set, OpenTelemetry traces. `service` names the process (its roles or
/// the command).
pub fn init_logging(cfg: &LogConfig, otel: &OtelConfig, service: &str) -> anyhow::Result<Traces> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.filter));
    let json = match cfg.format.as_str() {
        "json" => true,
        "text" => false,
        _ => !io::stderr().is_terminal(),
    };
    let writer = MaskedStderr {
        masker: Arc::new(Masker::new(cfg.mask_ips)),
        json_service: json.then(|| Arc::from(service)),
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = if json {
        fmt.event_format(WithTraceIds {
            inner: tracing_subscriber::fmt::format().json().flatten_event(true),
            json: true,
        })
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .boxed()
    } else {
        fmt.event_format(WithTraceIds {
            inner: tracing_subscriber::fmt::format().with_ansi(io::stderr().is_terminal()),
            json: false,
        })
        .boxed()
    };
    let provider = tracer_provider(otel, service)?;
    let otel_layer = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("mediagw")));
    mediagw_trace::set_enabled(provider.is_some());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel_layer)
        .try_init();
    Ok(Traces(provider))
}

/// The OTLP/gRPC exporter behind a batch processor, or `None` while no endpoint is configured.
fn tracer_provider(otel: &OtelConfig, service: &str) -> anyhow::Result<Option<SdkTracerProvider>> {
    if otel.endpoint.trim().is_empty() {
        return Ok(None);
    }
    anyhow::ensure!(
        (0.0..=1.0).contains(&otel.sampling_ratio),
        "otel.sampling_ratio must be between 0.0 and 1.0, got {}",
        otel.sampling_ratio
    );
    // The batch processor exports from a thread of its own; tonic needs a Tokio reactor there.
    let rt = export_runtime()?;
    let _in_rt = rt.enter();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(otel.endpoint.trim())
        .with_timeout(std::time::Duration::from_millis(otel.timeout_ms))
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("mediagw")
        .with_attribute(opentelemetry::KeyValue::new(
            "mediagw.roles",
            service.to_string(),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(OnExportRuntime(exporter))
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            otel.sampling_ratio,
        ))))
        .with_resource(resource)
        .build();
    Ok(Some(provider))
}

/// One small runtime for span export, alive for the whole process.
fn export_runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otel-export")
        .enable_all()
        .build()?;
    Ok(RT.get_or_init(|| rt))
}

/// Runs each export on [`export_runtime`] (the SDK's batch thread has no reactor of its own).
#[derive(Debug)]
struct OnExportRuntime(opentelemetry_otlp::SpanExporter);

impl SpanExporter for OnExportRuntime {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match export_runtime() {
            Ok(rt) => rt.block_on(self.0.export(batch)),
            Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
        }
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

/// Adds the current span's `trace_id` and `span_id` to every log line written inside a traced
/// span (JSON fields, or a text prefix), so logs and traces join on the id.
struct WithTraceIds<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let ids = ctx.lookup_current().and_then(|span| {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
            let sc = cx.span().span_context().clone();
            sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
        });
        let Some((trace_id, span_id)) = ids else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json {
            write!(writer, "trace_id={trace_id} span_id={span_id} ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        if line.starts_with('{') {
            line.insert_str(
                1,
                &format!("\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\","),
            );
        }
        writer.write_str(&line)
    }
}

/// Histogram buckets (seconds) for every duration: 1 ms to 60 s.
const BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Installs the Prometheus recorder: histograms with [`BUCKETS`], `service` on every series.
pub fn init_metrics(service: &str) -> PrometheusHandle {
    let handle = PrometheusBuilder::new()
        .add_global_label("service", service)
        .set_buckets(&BUCKETS)
        .expect("static buckets")
        .install_recorder()
        .expect("metrics recorder installed once");
    describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    handle
}

/// Help text for every metric the process may export (`promtool check metrics` wants it).
fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(
        "commands_bulk_fallbacks_total",
        "Bulk ingest batches that fell back to one-by-one commands"
    );
    metrics::describe_counter!(
        "commands_bulk_replans_total",
        "Bulk ingest batches re-planned after a concurrent write"
    );
    metrics::describe_counter!(
        "commands_events_committed_total",
        "Events committed to the event store"
    );
    metrics::describe_counter!(
        "connector_requests_total",
        "Requests sent to aggregator APIs"
    );
    metrics::describe_counter!("connector_retries_total", "Aggregator API requests retried");
    metrics::describe_counter!("devices_registered_total", "Devices registered or updated");
    metrics::describe_counter!("feedback_recorded_total", "User feedback events recorded");
    metrics::describe_counter!(
        "gateway_limit_store_errors_total",
        "Rate-limit store (Redis) errors; limits fail open"
    );
    metrics::describe_counter!(
        "gateway_rate_limited_total",
        "Requests refused with 429 by the gateway"
    );
    metrics::describe_counter!(
        "gateway_tokens_rejected_total",
        "Bearer tokens refused by the gateway"
    );
    metrics::describe_gauge!(
        "gateway_revoked_tokens",
        "Revoked, unexpired access tokens in this instance's deny list (from PostgreSQL)"
    );
    metrics::describe_counter!(
        "gateway_deny_list_refresh_errors_total",
        "Failed reloads of the deny list from PostgreSQL (the last copy stays in force)"
    );
    metrics::describe_counter!(
        "gateway_deny_writes_retried_total",
        "Revocations whose write to Redis failed and is retried in the background"
    );
    metrics::describe_counter!(
        "sync_sockets_revoked_total",
        "Sync sockets closed because their access token was revoked"
    );
    metrics::describe_counter!(
        "sync_sockets_refused_total",
        "Sync sockets refused or closed by a cap (too many per account, message budget spent)"
    );
    metrics::describe_gauge!(
        "availability_streams",
        "Live availability change streams (SSE) open on this instance"
    );
    metrics::describe_counter!(
        "availability_streams_refused_total",
        "Availability change streams refused by the per-address cap"
    );
    metrics::describe_counter!(
        "projector_erased_skipped_total",
        "Records skipped because the user they are about was erased (their key is gone)"
    );
    metrics::describe_counter!(
        "grpc_server_handled_total",
        "gRPC calls completed, by method and status"
    );
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by endpoint, method and status"
    );
    metrics::describe_counter!("mcp_tool_calls_total", "MCP tool calls");
    metrics::describe_counter!(
        "mcp_tool_refused_total",
        "MCP tool calls refused (scope or consent)"
    );
    metrics::describe_counter!(
        "playback_controls_delivered_total",
        "Playback control commands delivered to a device"
    );
    metrics::describe_counter!(
        "playback_controls_total",
        "Playback control commands accepted"
    );
    metrics::describe_counter!(
        "playback_initiated_total",
        "Playback sessions started, by platform and device type"
    );
    metrics::describe_counter!(
        "projector_batch_retries_total",
        "Projector batches retried after a transient error"
    );
    metrics::describe_counter!(
        "projector_dead_lettered_total",
        "Messages sent to a dead-letter topic by projectors"
    );
    metrics::describe_counter!(
        "projector_events_applied_total",
        "Events applied to read models"
    );
    metrics::describe_counter!(
        "projector_events_dead_lettered_total",
        "Events dead-lettered while applying"
    );
    metrics::describe_counter!(
        "projector_events_skipped_total",
        "Events skipped as already applied"
    );
    metrics::describe_counter!(
        "recommend_cache_hits_total",
        "Recommendation answers served from the cache"
    );
    metrics::describe_counter!(
        "recommendations_generated_total",
        "Recommendation lists computed"
    );
    metrics::describe_counter!(
        "relay_events_parked_total",
        "Outbox rows parked as unpublishable"
    );
    metrics::describe_counter!(
        "relay_events_published_total",
        "Events published to Kafka by the relay"
    );
    metrics::describe_counter!("search_cache_total", "Search cache lookups, by result");
    metrics::describe_counter!(
        "search_embeddings_total",
        "Texts embedded for the search index"
    );
    metrics::describe_counter!(
        "search_events_dropped_total",
        "Search events dropped (queue full)"
    );
    metrics::describe_counter!("search_events_published_total", "Search events published");
    metrics::describe_counter!("search_queries_total", "Searches answered, by query type");
    metrics::describe_counter!(
        "sync_fanout_failures_total",
        "Sync deltas that could not be fanned out to other instances"
    );
    metrics::describe_counter!("sync_gaps_filled_total", "Sync gaps filled from the log");
    metrics::describe_counter!(
        "sync_operations_delivered_total",
        "Sync operations delivered to device sockets"
    );
    metrics::describe_counter!("sync_operations_recorded_total", "Sync operations recorded");
    metrics::describe_counter!(
        "sync_operations_total",
        "Sync operations recorded, by operation type"
    );
    metrics::describe_counter!(
        "sync_pushes_dropped_total",
        "Sync pushes dropped (slow socket)"
    );
    metrics::describe_gauge!(
        "db_pool_connections",
        "PostgreSQL pool connections, by state"
    );
    metrics::describe_gauge!(
        "offers_expiring_soon",
        "Offers expiring within the look-ahead window"
    );
    metrics::describe_gauge!(
        "projector_consumer_lag_events",
        "Events on the broker not yet in the read model, per partition"
    );
    metrics::describe_gauge!(
        "projector_consumer_position",
        "Next offset the read model holds, per partition"
    );
    metrics::describe_gauge!(
        "projector_last_batch_size",
        "Size of the last applied batch"
    );
    metrics::describe_gauge!(
        "relay_backlog_events",
        "Committed events not yet acknowledged by the broker"
    );
    metrics::describe_gauge!("relay_last_batch_size", "Size of the last relay batch");
    metrics::describe_gauge!("sync_sockets", "Open sync WebSockets");
    metrics::describe_histogram!(
        "grpc_server_handling_seconds",
        Unit::Seconds,
        "gRPC call duration"
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request duration"
    );
    metrics::describe_histogram!(
        "projector_lag_seconds",
        Unit::Seconds,
        "Time from event commit to read-model apply"
    );
    metrics::describe_histogram!(
        "recommend_seconds",
        Unit::Seconds,
        "Recommendation computation time"
    );
    metrics::describe_histogram!(
        "recommend_stage_seconds",
        Unit::Seconds,
        "Recommendation time per stage"
    );
    metrics::describe_histogram!(
        "recommend_training_seconds",
        Unit::Seconds,
        "Recommendation model training time"
    );
    metrics::describe_histogram!(
        "relay_encode_seconds",
        Unit::Seconds,
        "Relay Avro encoding time per batch"
    );
    metrics::describe_histogram!(
        "relay_publish_seconds",
        Unit::Seconds,
        "Relay publish time per batch"
    );
    metrics::describe_histogram!(
        "search_duration_seconds",
        Unit::Seconds,
        "Search time (uncached), by mode"
    );
    metrics::describe_histogram!(
        "search_embed_batch_seconds",
        Unit::Seconds,
        "Embedding time per batch"
    );
    metrics::describe_histogram!(
        "search_index_build_seconds",
        Unit::Seconds,
        "ANN index build time"
    );
    metrics::describe_histogram!(
        "search_stage_seconds",
        Unit::Seconds,
        "Search time per stage"
    );
}

#[cfg(test)]
mod tests {
    use super::Masker;

    #[test]
    fn personal_data_and_credentials_are_masked() {
        let m = Masker::new(true);
        let line = r#"{"message":"signed in","email":"ana.lopez@example.com","client_ip":"203.0.113.77","password":"hunter2","authorization":"Bearer abc.def-123"}"#;
        let out = m.mask(line);
        for secret in [
            "ana.lopez@example.com",
            "203.0.113.77",
            "hunter2",
            "abc.def-123",
        ] {
            assert!(!out.contains(secret), "{secret} leaked in {out}");
        }
        assert!(out.contains("203.0.113.x"), "{out}");
        let text = m.mask("token=eyJhbGciOi.eyJzdWIiOiJ4In0.sig user=ana@example.org tokens=30522");
        assert!(!text.contains("eyJ") && !text.contains("ana@"), "{text}");
        assert!(
            text.contains("tokens=30522"),
            "counts are not secrets: {text}"
        );
    }

    #[test]
    fn our_own_addresses_stay() {
        assert_eq!(
            Masker::new(true).mask("listening addr=127.0.0.1:8080 broker=10.1.2.3:9092"),
            "listening addr=127.0.0.1:8080 broker=10.1.2.3:9092"
        );
    }

    #[test]
    fn public_ipv6_keeps_only_its_network() {
        let m = Masker::new(true);
        let out = m.mask(
            "client_ip=2001:db8:85a3:8d3:1319:8a2e:370:7348 peer=2a00:1450:4001:82b::200e at 2026-12-05T15:10:32Z",
        );
        assert!(
            !out.contains("1319:8a2e") && !out.contains("82b::200e"),
            "{out}"
        );
        assert!(out.contains("client_ip=2001:db8:85a3:8d3:x:x:x:x"), "{out}");
        assert!(out.contains("peer=2a00:1450:4001:82b:x:x:x:x"), "{out}");
        assert!(
            out.contains("15:10:32"),
            "timestamps are not addresses: {out}"
        );
        assert_eq!(
            m.mask("listen [::1]:8080 and fe80::1ff:fe23:4567:890a and fd00::5"),
            "listen [::1]:8080 and fe80::1ff:fe23:4567:890a and fd00::5"
        );
        assert_eq!(
            m.mask("target=mediagw_query_api::add at api::face"),
            "target=mediagw_query_api::add at api::face"
        );
    }

    #[test]
    fn ips_stay_when_not_asked() {
        assert_eq!(
            Masker::new(false).mask("listening addr=127.0.0.1:8080"),
            "listening addr=127.0.0.1:8080"
        );
    }
}
