//! W3C trace context (`traceparent`, `tracestate`) across the process boundaries of one request:
//! HTTP and gRPC headers in, the event store's metadata (so the context survives the commit), the
//! Kafka record headers the relay writes, and the projectors that read them.
//!
//! Everything here is a no-op while tracing is off ([`set_enabled`] is never called): no context is
//! read, written or stored, so an untraced deployment pays nothing.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceFlags};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turned on once, by the process's telemetry set-up, when an exporter is configured.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// W3C headers as name/value pairs: the one carrier shape every boundary converts to and from.
pub type Carrier = Vec<(String, String)>;

struct Read<'a, F: Fn(&str) -> Option<&'a str>>(F, std::marker::PhantomData<&'a ()>);

impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for Read<'a, F> {
    fn get(&self, key: &str) -> Option<&str> {
        (self.0)(key)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

struct Write<'a>(&'a mut Carrier);

impl Injector for Write<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

/// The remote context named by `get` (a header lookup), if it holds a valid `traceparent`.
pub fn extract<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Context> {
    let cx = TraceContextPropagator::new().extract(&Read(get, std::marker::PhantomData));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` (not yet entered) a child of the remote context named by `get`; returns whether
/// there was one. Without a valid context the span starts a trace of its own.
pub fn continue_from<'a>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    if !enabled() {
        return false;
    }
    match extract(get) {
        Some(cx) => span.set_parent(cx).is_ok(),
        None => false,
    }
}

/// The context of `span` as W3C headers; empty when tracing is off or the span has none.
pub fn of(span: &tracing::Span) -> Carrier {
    let mut out = Carrier::new();
    if enabled() {
        let cx = span.context();
        if cx.span().span_context().is_valid() {
            TraceContextPropagator::new().inject_context(&cx, &mut Write(&mut out));
        }
    }
    out
}

/// Whether a `traceparent` asks for its trace to be recorded (the sampled flag): unsampled
/// requests get no per-event spans downstream.
pub fn sampled(traceparent: &str) -> bool {
    traceparent
        .rsplit('-')
        .next()
        .and_then(|flags| u8::from_str_radix(flags, 16).ok())
        .is_some_and(|f| TraceFlags::new(f).is_sampled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_reads_the_flags_field() {
        assert!(sampled(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!sampled(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        ));
        assert!(!sampled("garbage"));
    }

    #[test]
    fn extract_accepts_only_valid_parents() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = extract(|k| (k == TRACEPARENT).then_some(good)).expect("valid");
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(extract(|k| (k == TRACEPARENT)
            .then_some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"))
        .is_none());
        assert!(extract(|_| None).is_none());
    }

    #[test]
    fn nothing_is_carried_while_tracing_is_off() {
        assert!(of(&tracing::Span::current()).is_empty());
        assert!(!continue_from(&tracing::Span::none(), |_| Some("x")));
    }
}
