//! The seed's gRPC metrics for every call: `grpc_server_handled_total{method,status}` and
//! `grpc_server_handling_seconds{method}` (a tower layer on the tonic server), and a `grpc` span
//! per call that continues the caller's W3C `traceparent` metadata.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{Request, Response};
use tracing::Instrument;

/// Wraps the tonic server's service (`Server::builder().layer(GrpcMetricsLayer)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

/// gRPC status code names (grpc/doc/statuscodes.md).
fn code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

impl<S, B, R> tower::Service<Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<Request<B>, Response = Response<R>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let method = req.uri().path().to_string();
        let started = Instant::now();
        let span = tracing::info_span!("grpc", otel.name = %method, otel.kind = "server", rpc.system = "grpc");
        mediagw_trace::continue_from(&span, |k| req.headers().get(k)?.to_str().ok());
        let call = span.in_scope(|| self.inner.call(req));
        Box::pin(async move {
            let res = call.await;
            // A failed call answers trailers-only: its status is in the headers. A call that
            // streams a body carries it in the trailers, after this point: counted as OK here.
            let status = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .map_or("OK", code_name),
                Err(_) => "UNAVAILABLE",
            };
            // Paths nobody serves would let a caller mint label values: one bucket for them.
            let method = if status == "UNIMPLEMENTED" {
                "unknown".to_string()
            } else {
                method
            };
            metrics::histogram!("grpc_server_handling_seconds", "method" => method.clone())
                .record(started.elapsed().as_secs_f64());
            metrics::counter!("grpc_server_handled_total", "method" => method, "status" => status)
                .increment(1);
            res
        }.instrument(span))
    }
}
