//! `mediagw serve`: every role in one process by default, or a subset for scaling out.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use mediagw_auth::oauth::AuthServer;
use mediagw_query_api::gateway::{Gate, HttpSettings};
use mediagw_query_api::{Readiness, ReadinessProbe};
use mediagw_schemas::bus::EventBus;
use mediagw_schemas::registry::RegistryStore;
use metrics_exporter_prometheus::PrometheusHandle;
use schema_registry_converter::async_impl::schema_registry::{get_all_subjects, SrSettings};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::kafka::{ensure_topics, BrokerProbe};
use crate::role::{ProjectorName, Role};

pub async fn serve(
    app: App,
    roles: BTreeSet<Role>,
    metrics: PrometheusHandle,
) -> anyhow::Result<()> {
    app.migrate().await?;
    if roles.iter().any(|r| *r != Role::Registry) {
        ensure_topics(&app.config)
            .await
            .context("ensuring Kafka topics")?;
    }
    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();

    // Every process, whatever its roles, answers probes and scrapes on the internal listener.
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut checks = probes(&app, &roles)?;
    checks.push(Arc::new(Started(started.clone())));
    let readiness = Readiness::new(checks, Arc::new(move || metrics.render()));
    tasks.spawn(http(
        listen(app.config.http.internal_addr).await?,
        internal_router(&app, &roles, readiness).await?,
        shutdown.clone(),
        "operations (metrics, health)",
    ));
    tasks.spawn(crate::watch::pool(app.pool.clone(), shutdown.clone()));
    let projectors: Vec<ProjectorName> = roles
        .iter()
        .filter_map(|r| match r {
            Role::Projector(name) => Some(*name),
            _ => None,
        })
        .collect();
    if !projectors.is_empty() {
        tasks.spawn(crate::watch::consumer_lag(
            app.pool.clone(),
            app.config.clone(),
            projectors,
            shutdown.clone(),
        ));
    }
    if roles.contains(&Role::Relay) {
        tasks.spawn(crate::watch::relay_backlog(
            app.pool.clone(),
            shutdown.clone(),
        ));
    }

    if roles.contains(&Role::Registry) {
        let store = RegistryStore::new(app.pool.clone()).await?;
        let tokens = app.tokens().await?;
        let router =
            mediagw_query_api::gateway::layer(mediagw_schemas::registry::router(store).layer(
                axum::middleware::from_fn_with_state(tokens, registry_access),
            ));
        tasks.spawn(http(
            listen(app.config.registry.listen).await?,
            router,
            shutdown.clone(),
            "schema registry",
        ));
    }
    let bus: Option<Arc<mediagw_schemas::bus::KafkaBus>> = if roles
        .iter()
        .any(|r| matches!(r, Role::Relay | Role::Api | Role::Projector(_)))
    {
        Some(app.bus()?)
    } else {
        None
    };
    if roles.contains(&Role::Relay) {
        let relay = app.relay(bus.clone().expect("bus for relay") as Arc<dyn EventBus>);
        let token = shutdown.clone();
        tasks.spawn(async move {
            relay.run(token).await;
            Ok(())
        });
    }
    for name in roles.iter().filter_map(|r| match r {
        Role::Projector(name) => Some(*name),
        _ => None,
    }) {
        let runner = app
            .projector(
                name,
                bus.clone().expect("bus for projector") as Arc<dyn EventBus>,
            )
            .await?;
        let token = shutdown.clone();
        tasks.spawn(async move { runner.run(token).await.map_err(anyhow::Error::from) });
    }
    if roles.contains(&Role::Projector(ProjectorName::Search)) {
        let parts = app.search_parts().await?;
        let c = &app.config.search;
        tasks.spawn(crate::search::maintain_index(
            app.pool.clone(),
            parts.index,
            std::time::Duration::from_secs(c.optimize_idle_s.max(1)),
            c.optimize_min_points,
            shutdown.clone(),
        ));
    }
    if roles.contains(&Role::Projector(ProjectorName::UserProfiles)) {
        tasks.spawn(crate::recommend::retrain_periodically(
            app.pool.clone(),
            app.model_params(),
            std::time::Duration::from_secs(app.config.recommend.train_check_s.max(1)),
            app.config.recommend.retrain_after,
            shutdown.clone(),
        ));
    }
    if roles.contains(&Role::Connectors) {
        let (titles, cfg, token) = (
            app.titles(),
            app.config.connectors.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            mediagw_commands::connectors::schedule::run(titles, cfg, token).await;
            Ok(())
        });
    }
    if roles.contains(&Role::Api) {
        // Series that count rare things exist from the start (at 0), so rates and alerts over
        // them read 0 rather than "no data".
        for name in [
            "gateway_rate_limited_total",
            "gateway_tokens_rejected_total",
            "recommendations_generated_total",
            "feedback_recorded_total",
        ] {
            metrics::counter!(name).increment(0);
        }
        metrics::gauge!("sync_sockets").increment(0.0);
        let titles = app.titles();
        let parts = app.search_parts().await?;
        if let (Some(d), true) = (&parts.distilled, app.config.search.query_encoder_warm) {
            tasks.spawn(crate::search::warm_query_encoder(
                d.clone(),
                app.config.search.model_dir.join("distilled-tokens.f32"),
                shutdown.clone(),
            ));
        }
        let (events, publisher) = crate::search::KafkaSearchEvents::spawn(
            bus.clone().expect("bus for api") as Arc<dyn EventBus>,
            app.codec.clone(),
            app.pool.clone(),
            std::time::Duration::from_millis(app.config.search.events_flush_ms.max(1)),
            app.config.search.events_max_batch,
            shutdown.clone(),
        );
        tasks.spawn(async move {
            publisher.await?;
            Ok(())
        });
        let search = Arc::new(mediagw_query_api::search::SearchService::new(
            app.pool.clone(),
            parts.index,
            parts.query_embedder,
            parts.cache.clone(),
            Some(Arc::new(events)),
            app.search_settings()?,
        ));
        search.load_known().await;
        let recommendations = Arc::new(mediagw_query_api::recommend::RecommendationService::new(
            app.pool.clone(),
            Some(search.clone()),
            parts.cache,
            Arc::new(crate::ports::FeedbackPort(app.interactions())),
            app.recommend_settings(),
        ));
        tasks.spawn({
            let (r, token) = (recommendations.clone(), shutdown.clone());
            async move {
                r.keep_model_fresh(token).await;
                Ok(())
            }
        });
        let (tokens, gate) = gateway(&app, &mut tasks, &shutdown).await?;
        // Sessions, codes, refresh rows and revocations that can no longer be used, every 10 min.
        tasks.spawn({
            let (pool, token) = (app.pool.clone(), shutdown.clone());
            async move {
                loop {
                    match mediagw_auth::store::purge_expired(&pool).await {
                        Ok(counts) => {
                            for (table, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
                                tracing::info!(table, rows = n, "expired auth rows removed");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "auth cleanup failed"),
                    }
                    tokio::select! {
                        _ = token.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
                    }
                }
            }
        });
        let accounts: Arc<dyn mediagw_query_api::account::Accounts> =
            Arc::new(app.accounts(Some(gate.store.clone()))?);
        let grpc_tokens = tokens.clone();
        // The auth server asks the gate for its sign-in budget and deny list.
        let auth = Arc::new(AuthServer {
            pool: app.pool.clone(),
            tokens,
            gate: gate.clone(),
            settings: app.auth_settings(),
        });
        use axum::middleware::from_fn;
        use mediagw_auth::{admin_policy, catalog_policy};
        let catalog = Router::new()
            .merge(mediagw_query_api::content::router(app.pool.clone()))
            .merge(mediagw_query_api::availability::router(
                mediagw_query_api::availability::Feed::start(app.pool.clone(), shutdown.clone()),
            ))
            .merge(mediagw_query_api::search::router(search))
            .route_layer(from_fn(catalog_policy));
        let hub = app.sync_hub(shutdown.clone()).await?;
        let playback = Arc::new(mediagw_query_api::playback::PlaybackService::new(
            app.pool.clone(),
            Arc::new(app.playback_port()),
            hub.clone(),
            app.playback_settings(),
        ));
        let router = Router::new()
            .merge(
                mediagw_commands::http::router(titles, app.config.http.max_body_bytes)
                    .route_layer(from_fn(admin_policy)),
            )
            .merge(catalog)
            .merge(mediagw_query_api::sync::router(hub, app.pool.clone()))
            .merge(mediagw_query_api::playback::router(playback.clone()))
            .merge(mediagw_query_api::mcp::http::router(
                app.pool.clone(),
                app.mcp_settings(),
                shutdown.clone(),
            ))
            .merge(mediagw_query_api::recommend::router(
                recommendations.clone(),
            ))
            .merge(mediagw_query_api::account::router(accounts))
            .merge(mediagw_auth::oauth::router(auth))
            .merge(mediagw_query_api::openapi::router())
            .merge(mediagw_query_api::health::live_router());
        let settings = http_settings(&app);
        tasks.spawn(http(
            listen(app.config.http.addr).await?,
            mediagw_query_api::gateway::api_layer(router, gate.clone(), &settings),
            shutdown.clone(),
            "api",
        ));
        let grpc = mediagw_query_api::grpc::routes(
            app.pool.clone(),
            Some(mediagw_query_api::recommend::grpc::RecommendationGrpc {
                service: recommendations.clone(),
                tokens: grpc_tokens.clone(),
            }),
            Some(mediagw_query_api::playback::grpc::PlaybackGrpc {
                service: playback,
                tokens: grpc_tokens,
            }),
            app.config.grpc.reflection,
        )
        .await?;
        let (addr, token) = (app.config.grpc.addr, shutdown.clone());
        let grpc_gate = mediagw_query_api::grpc_gate::GrpcGateLayer(gate.clone());
        let (timeout, per_connection) = (
            std::time::Duration::from_millis(app.config.grpc.timeout_ms.max(1)),
            app.config.grpc.max_concurrent_per_connection.max(1),
        );
        tasks.spawn(async move {
            tracing::info!(%addr, "gRPC listening");
            tonic::transport::Server::builder()
                .timeout(timeout)
                .concurrency_limit_per_connection(per_connection)
                .layer(mediagw_query_api::grpc_metrics::GrpcMetricsLayer)
                .layer(grpc_gate)
                .add_routes(grpc)
                .serve_with_shutdown(addr, token.cancelled_owned())
                .await
                .context("gRPC server")
        });
    }

    if roles.contains(&Role::Mcp) && !roles.contains(&Role::Api) {
        // The MCP endpoint alone (agents scale apart from the API); it calls the API over HTTP.
        let (_, gate) = gateway(&app, &mut tasks, &shutdown).await?;
        let router = Router::new()
            .merge(mediagw_query_api::mcp::http::router(
                app.pool.clone(),
                app.mcp_settings(),
                shutdown.clone(),
            ))
            .merge(mediagw_query_api::health::live_router());
        let settings = http_settings(&app);
        tasks.spawn(http(
            listen(app.config.http.addr).await?,
            mediagw_query_api::gateway::api_layer(router, gate, &settings),
            shutdown.clone(),
            "mcp",
        ));
    }

    // Every role is set up and every listener bound: ready from here on.
    started.store(true, std::sync::atomic::Ordering::Release);
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: draining");
        signal.cancel();
    });
    let mut result = Ok(());
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) | Err(e) = done.map_err(anyhow::Error::from) {
            tracing::error!(error = %e, "a role failed; shutting down");
            result = Err(e);
            shutdown.cancel();
        }
    }
    if let Some(bus) = bus {
        bus.flush(std::time::Duration::from_secs(5));
    }
    result
}

/// What the public roles (`api`, `mcp`) put in front of their routes: the token service, its
/// signing keys kept fresh in the background, and the gateway (authentication, rate limits).
/// The internal (operations) listener: health and metrics, and for the registry role the registry
/// with write access (operators and deploy jobs inside the cluster change it here).
async fn internal_router(
    app: &App,
    roles: &BTreeSet<Role>,
    readiness: Readiness,
) -> anyhow::Result<Router> {
    let mut router = mediagw_query_api::health::internal_router(readiness);
    if roles.contains(&Role::Registry) {
        let store = RegistryStore::new(app.pool.clone()).await?;
        router = router.merge(
            mediagw_schemas::registry::router(store)
                .layer(axum::Extension(mediagw_schemas::registry::WriteAccess)),
        );
    }
    Ok(router)
}

/// The schema registry's public listener: an operator's token (role `admin`) may change the
/// registry; everyone else reads (`mediagw_schemas::registry::WriteAccess`). A bad token is
/// refused like anywhere else.
async fn registry_access(
    axum::extract::State(tokens): axum::extract::State<Arc<mediagw_auth::TokenService>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Ok(Some(token)) = mediagw_query_api::gateway::bearer(&req) {
        match tokens.validate(&token).await {
            Ok(c) if c.is_admin() => {
                req.extensions_mut()
                    .insert(mediagw_schemas::registry::WriteAccess);
            }
            Ok(_) => {}
            Err(e) => return mediagw_query_api::error::ApiError::from(e).into_response(),
        }
    }
    next.run(req).await
}

async fn gateway(
    app: &App,
    tasks: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Arc<mediagw_auth::TokenService>, Arc<Gate>)> {
    let tokens = app.tokens().await?;
    let (keys, every, token) = (
        tokens.keys().clone(),
        std::time::Duration::from_secs(app.config.auth.key_reload_s.max(1)),
        shutdown.clone(),
    );
    tasks.spawn(async move {
        keys.maintain(every, token).await;
        Ok(())
    });
    let denied = Arc::new(mediagw_query_api::gateway::revocations::DenyList::default());
    denied
        .load(&app.pool)
        .await
        .context("loading the revoked tokens")?;
    tasks.spawn({
        let (denied, pool, token) = (denied.clone(), app.pool.clone(), shutdown.clone());
        async move {
            denied.keep_fresh(pool, token).await;
            Ok(())
        }
    });
    let gate = Arc::new(Gate {
        tokens: tokens.clone(),
        store: app.gate_store().await?,
        denied,
        tiers: app.config.gateway.rate_limits,
        trust_forwarded_for: app.config.gateway.trust_forwarded_for,
    });
    Ok((tokens, gate))
}

fn http_settings(app: &App) -> HttpSettings {
    HttpSettings {
        max_body_bytes: app.config.http.max_body_bytes,
        cors_origins: app.config.gateway.cors_origins.clone(),
    }
}

/// Binds before the server task is spawned: once readiness says "ready", every listener of the
/// process accepts connections.
async fn listen(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

async fn http(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
    what: &'static str,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    let addr = listener.local_addr()?;
    // Small answers written in pieces (SSE events, chunk trailers) must not wait for the peer's
    // delayed ACK (Nagle): 40 ms per MCP call without this.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!(%addr, "{what} listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await?;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// What this process needs to serve: PostgreSQL always; the broker where it produces or
/// consumes; the schema registry where it encodes or decodes events.
fn probes(app: &App, roles: &BTreeSet<Role>) -> anyhow::Result<Vec<Arc<dyn ReadinessProbe>>> {
    let mut probes: Vec<Arc<dyn ReadinessProbe>> = vec![Arc::new(PgProbe(app.pool.clone()))];
    let uses_kafka = roles
        .iter()
        .any(|r| matches!(r, Role::Relay | Role::Api | Role::Projector(_)));
    if uses_kafka {
        probes.push(Arc::new(BrokerProbe::new(&app.config)?));
        probes.push(Arc::new(RegistryProbe(SrSettings::new(
            app.config.registry.url.clone(),
        ))));
    }
    Ok(probes)
}

/// Not ready until `serve` has started every role it was given.
struct Started(Arc<std::sync::atomic::AtomicBool>);

#[async_trait]
impl ReadinessProbe for Started {
    fn name(&self) -> &'static str {
        "roles"
    }

    async fn check(&self) -> Result<(), String> {
        if self.0.load(std::sync::atomic::Ordering::Acquire) {
            Ok(())
        } else {
            Err("starting".into())
        }
    }
}

struct PgProbe(PgPool);

#[async_trait]
impl ReadinessProbe for PgProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

struct RegistryProbe(SrSettings);

#[async_trait]
impl ReadinessProbe for RegistryProbe {
    fn name(&self) -> &'static str {
        "schema_registry"
    }

    async fn check(&self) -> Result<(), String> {
        get_all_subjects(&self.0)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
