//! gRPC `mediagw.content.v1.ContentService` (seed §2): the same reads as the REST routes, from the
//! same catalog tables, plus the standard health and reflection services so `grpcurl` works.

use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::content::{self, GetContentResponse, MAX_BATCH};
use crate::grpc_edge::parse_id;

pub mod pb {
    tonic::include_proto!("mediagw.content.v1");

    /// Encoded descriptors of the service, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("content_descriptor");
}

use pb::content_service_server::{ContentService, ContentServiceServer};

pub struct ContentGrpc {
    pool: PgPool,
}

/// Database failures are logged and answered without internals.
fn db(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "grpc read failed");
    Status::internal("internal error")
}

fn detail(c: GetContentResponse) -> pb::ContentDetail {
    pb::ContentDetail {
        id: c.id.to_string(),
        content_type: c.content_type,
        title: c.title,
        original_title: c.original_title,
        overview: c.overview,
        release_date: c.release_date.to_string(),
        genres: c.genres,
        runtime_minutes: c.runtime_minutes.and_then(|m| u32::try_from(m).ok()),
        availability: c
            .availability
            .into_iter()
            .map(|a| pb::PlatformAvailability {
                platform: a.platform,
                region: a.region,
                availability_type: a.availability_type,
                price_amount: a.price_amount.map(|p| p.to_string()),
                price_currency: a.price_currency,
                deep_link: a.deep_link,
                web_url: a.web_url,
                available_from: a.available_from.to_rfc3339(),
                expires_at: a.expires_at.map(|t| t.to_rfc3339()),
                video_quality: a.video_quality,
            })
            .collect(),
        external_ids: c.external_ids.into_iter().collect(),
        last_updated: c.last_updated.to_rfc3339(),
        average_rating: c.average_rating,
        vote_count: u32::try_from(c.vote_count).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl ContentService for ContentGrpc {
    async fn get_content(
        &self,
        req: Request<pb::GetContentRequest>,
    ) -> Result<Response<pb::ContentDetail>, Status> {
        let id = parse_id("content_id", &req.get_ref().content_id)?;
        let c = content::fetch(&self.pool, id)
            .await
            .map_err(db)?
            .ok_or_else(|| Status::not_found(format!("content {id} not found")))?;
        Ok(Response::new(detail(c)))
    }

    async fn batch_get_content(
        &self,
        req: Request<pb::BatchGetContentRequest>,
    ) -> Result<Response<pb::BatchGetContentResponse>, Status> {
        let raw = &req.get_ref().content_ids;
        if raw.is_empty() || raw.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "`content_ids`: must hold 1 to {MAX_BATCH} ids"
            )));
        }
        let mut ids = Vec::with_capacity(raw.len());
        for r in raw {
            let id = parse_id("content_ids", r)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let found = content::fetch_resolved(&self.pool, &ids)
            .await
            .map_err(db)?;
        let not_found = ids
            .iter()
            .filter(|id| !found.iter().any(|(asked, _)| asked == *id))
            .map(Uuid::to_string)
            .collect();
        Ok(Response::new(pb::BatchGetContentResponse {
            content: found.into_iter().map(|(_, c)| detail(c)).collect(),
            not_found,
        }))
    }

    async fn resolve_external_id(
        &self,
        req: Request<pb::ResolveExternalIdRequest>,
    ) -> Result<Response<pb::ContentDetail>, Status> {
        let r = req.get_ref();
        if r.id_type.is_empty() || r.id_value.is_empty() {
            return Err(Status::invalid_argument(
                "`id_type` and `id_value` are required",
            ));
        }
        let missing =
            || Status::not_found(format!("no content with {} id `{}`", r.id_type, r.id_value));
        let id = content::by_external(&self.pool, &r.id_type, &r.id_value)
            .await
            .map_err(db)?
            .ok_or_else(missing)?;
        let c = content::fetch(&self.pool, id)
            .await
            .map_err(db)?
            .ok_or_else(missing)?;
        Ok(Response::new(detail(c)))
    }
}

/// The gRPC router: ContentService, RecommendationService and PlaybackService (when given),
/// grpc.health.v1, and server reflection (v1 and v1alpha) when `reflection` is configured (it
/// describes every method to anyone who asks: off in production).
pub async fn routes(
    pool: PgPool,
    recommendations: Option<crate::recommend::grpc::RecommendationGrpc>,
    playback: Option<crate::playback::grpc::PlaybackGrpc>,
    reflection: bool,
) -> Result<tonic::service::Routes, tonic_reflection::server::Error> {
    use crate::playback::grpc::PlaybackServiceServer;
    use crate::recommend::grpc::RecommendationServiceServer;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<ContentServiceServer<ContentGrpc>>()
        .await;
    if recommendations.is_some() {
        reporter
            .set_serving::<RecommendationServiceServer<crate::recommend::grpc::RecommendationGrpc>>(
            )
            .await;
    }
    if playback.is_some() {
        reporter
            .set_serving::<PlaybackServiceServer<crate::playback::grpc::PlaybackGrpc>>()
            .await;
    }
    let mut routes = tonic::service::Routes::new(ContentServiceServer::new(ContentGrpc { pool }))
        .add_service(health);
    if reflection {
        let v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        routes = routes.add_service(v1).add_service(v1alpha);
    }
    if let Some(r) = recommendations {
        routes = routes.add_service(RecommendationServiceServer::new(r));
    }
    if let Some(p) = playback {
        routes = routes.add_service(PlaybackServiceServer::new(p));
    }
    Ok(routes)
}
