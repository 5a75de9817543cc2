//! The REST gateway's checks for every gRPC call (a tower layer on the tonic server): a bearer token,
//! when sent, must be valid and not revoked; each call spends one request of the caller's tier (per
//! user when signed in, per address otherwise), exactly as on REST. Health checks are exempt.
//! Per-method scopes stay with the services (`grpc_edge::bearer_caller`).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{Request, Response};
use mediagw_domain::auth::Tier;
use tonic::Status;

use crate::gateway::limits::Admission;
use crate::gateway::Gate;

#[derive(Clone)]
pub struct GrpcGateLayer(pub Arc<Gate>);

impl<S> tower::Layer<S> for GrpcGateLayer {
    type Service = GrpcGate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcGate {
            gate: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct GrpcGate<S> {
    gate: Arc<Gate>,
    inner: S,
}

/// What the checks read from a call.
struct Call {
    health: bool,
    ip: IpAddr,
    token: Option<String>,
}

impl Call {
    fn of<B>(req: &Request<B>) -> Self {
        Call {
            health: req.uri().path().starts_with("/grpc.health.v1.Health/"),
            ip: req
                .extensions()
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(|c| c.remote_addr())
                .map_or(IpAddr::from([0, 0, 0, 0]), |a: SocketAddr| a.ip()),
            token: req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string),
        }
    }
}

/// Why a call was refused before reaching its service.
async fn refusal(gate: &Gate, call: Call) -> Option<Status> {
    if call.health {
        return None;
    }
    let ip = call.ip;
    let caller = match call.token.as_deref() {
        None => None,
        Some(t) => match gate.tokens.validate(t).await {
            Ok(c) => Some(c),
            Err(e) => {
                metrics::counter!("gateway_tokens_rejected_total").increment(1);
                return Some(Status::unauthenticated(e.to_string()));
            }
        },
    };
    if caller.as_ref().is_some_and(|c| gate.denied.contains(c.jti)) {
        metrics::counter!("gateway_tokens_rejected_total").increment(1);
        return Some(Status::unauthenticated("token revoked"));
    }
    let (key, policy) = match &caller {
        Some(c) => (
            format!("user:{}", c.user_id),
            match c.tier {
                Tier::Free => gate.tiers.free,
                Tier::Premium => gate.tiers.premium,
            },
        ),
        None => (
            format!("ip:{}", crate::gateway::rate_key_ip(ip)),
            gate.tiers.anonymous,
        ),
    };
    match gate
        .store
        .admit(&key, policy, caller.as_ref().map(|c| c.jti))
        .await
    {
        Ok(Admission::Revoked) => Some(Status::unauthenticated("token revoked")),
        Ok(Admission::Limited { retry_after_s, .. }) => {
            metrics::counter!("gateway_rate_limited_total").increment(1);
            Some(Status::resource_exhausted(format!(
                "rate limited; retry in {retry_after_s} s"
            )))
        }
        Ok(Admission::Allowed { .. }) => None,
        Err(e) => {
            // Like REST: rate limits fail open, revocation was checked above.
            tracing::warn!(error = %e, "rate-limit store unavailable; admitting");
            metrics::counter!("gateway_limit_store_errors_total").increment(1);
            None
        }
    }
}

impl<S, B, R> tower::Service<Request<B>> for GrpcGate<S>
where
    S: tower::Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service polled ready is the one that must serve this call (tower's contract).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        let call = Call::of(&req);
        Box::pin(async move {
            match refusal(&gate, call).await {
                Some(status) => Ok(status.into_http()),
                None => inner.call(req).await,
            }
        })
    }
}
