//! gRPC `mediagw.recommendation.v1.RecommendationService` (seed §4): the same service as the REST
//! routes, with the caller's access token in the `authorization` metadata.

use std::sync::Arc;

use chrono::Utc;
use mediagw_auth::{Caller, TokenService};
use mediagw_domain::auth::Scope;
use mediagw_domain::interaction::{Feedback, Signal};
use mediagw_domain::recommend::rank::{self, Context, Stages};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::port::FeedbackWriteError;
use super::service::{Ask, RecommendationService};

pub mod pb {
    tonic::include_proto!("mediagw.recommendation.v1");
}

use pb::recommendation_service_server::RecommendationService as Rpc;
pub use pb::recommendation_service_server::RecommendationServiceServer;

pub struct RecommendationGrpc {
    pub service: Arc<RecommendationService>,
    pub tokens: Arc<TokenService>,
}

use crate::grpc_edge::{parse_id, status};

impl RecommendationGrpc {
    /// The caller behind the request's bearer token, allowed to act for `user`.
    async fn caller<T>(
        &self,
        req: &Request<T>,
        user: Uuid,
        scope: Scope,
    ) -> Result<Caller, Status> {
        let caller = crate::grpc_edge::bearer_caller(&self.tokens, req, scope).await?;
        if !caller.is_admin() {
            caller.require_self(user).map_err(status)?;
        }
        Ok(caller)
    }
}

#[tonic::async_trait]
impl Rpc for RecommendationGrpc {
    async fn get_recommendations(
        &self,
        req: Request<pb::GetRecommendationsRequest>,
    ) -> Result<Response<pb::RecommendationList>, Status> {
        let user = parse_id("user_id", &req.get_ref().user_id)?;
        self.caller(&req, user, Scope::ReadPreferences).await?;
        let r = req.into_inner();
        let limit = if r.limit == 0 { 10 } else { r.limit as usize };
        if limit > super::http::MAX_LIMIT {
            return Err(Status::invalid_argument(
                "`limit`: must be between 1 and 20",
            ));
        }
        let diversity = r.diversity_threshold.unwrap_or(0.2);
        if !(0.0..=1.0).contains(&diversity) {
            return Err(Status::invalid_argument(
                "`diversity_threshold`: must be between 0.0 and 1.0",
            ));
        }
        let c = r.context.unwrap_or_default();
        let lower =
            |s: Option<String>| s.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let answer = self
            .service
            .recommend(Ask {
                user_id: Some(user),
                context: Context {
                    mood: lower(c.mood),
                    time_of_day: lower(c.time_of_day),
                    device_type: lower(c.device_type),
                    viewing_with: c
                        .viewing_with
                        .iter()
                        .map(|w| w.trim().to_lowercase())
                        .collect(),
                    genres: vec![],
                },
                limit,
                exclude_watched: r.exclude_watched.unwrap_or(true),
                diversity,
                region: r.region.map(|x| x.trim().to_ascii_uppercase()),
                stages: Stages::ALL,
                liked: vec![],
                use_cache: true,
            })
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RecommendationList {
            recommendations: answer
                .recommendations
                .into_iter()
                .map(|x| pb::Recommendation {
                    content_id: x.content.id.to_string(),
                    title: x.content.title,
                    release_year: x.content.release_year,
                    genres: x.content.genres,
                    confidence_score: x.confidence_score,
                    recommendation_type: format!("{:?}", x.recommendation_type),
                    based_on: x.based_on,
                    explanation: x.explanation,
                    platforms: x
                        .content
                        .availability
                        .into_iter()
                        .map(|o| o.platform)
                        .collect(),
                })
                .collect(),
            generated_at: answer.generated_at.to_rfc3339(),
            model_version: answer.model_version,
        }))
    }

    async fn calculate_affinity(
        &self,
        req: Request<pb::CalculateAffinityRequest>,
    ) -> Result<Response<pb::Affinity>, Status> {
        let user = parse_id("user_id", &req.get_ref().user_id)?;
        let content = parse_id("content_id", &req.get_ref().content_id)?;
        self.caller(&req, user, Scope::ReadPreferences).await?;
        let profile = self
            .service
            .load_profile(user, true)
            .await
            .map_err(status)?;
        let Some((_, model)) = self.service.model() else {
            return Err(Status::unavailable(
                "no recommendation model has been trained yet",
            ));
        };
        let weights = self.service.settings.weights;
        let items = profile.items.clone();
        let found =
            tokio::task::spawn_blocking(move || rank::affinity(&model, &items, content, &weights))
                .await
                .map_err(|_| Status::internal("internal error"))?;
        let (affinity, explanation) = match found {
            Some((a, c)) if c.because_of == Some(content) => {
                (a, "your own feedback on it".to_string())
            }
            Some((a, c)) => {
                let why = c
                    .because_of
                    .and_then(|b| profile.items.iter().find(|i| i.content_id == b))
                    .and_then(|i| i.title.clone())
                    .map(|t| format!("{:?}: because of {t}", c.kind))
                    .unwrap_or_else(|| format!("{:?}", c.kind));
                (a, why)
            }
            None => (0.0, "not enough evidence about this title".to_string()),
        };
        Ok(Response::new(pb::Affinity {
            affinity,
            explanation,
        }))
    }

    async fn update_user_profile(
        &self,
        req: Request<pb::UpdateUserProfileRequest>,
    ) -> Result<Response<pb::UpdateUserProfileResponse>, Status> {
        let user = parse_id("user_id", &req.get_ref().user_id)?;
        self.caller(&req, user, Scope::WritePreferences).await?;
        let e = req
            .into_inner()
            .viewing_event
            .ok_or_else(|| Status::invalid_argument("`viewing_event` is required"))?;
        let content = parse_id("viewing_event.content_id", &e.content_id)?;
        let signal = match e.event_type.as_str() {
            "Watched" => Signal::Watched {
                completion: e.completion_rate.ok_or_else(|| {
                    Status::invalid_argument(
                        "`viewing_event.completion_rate` is required for Watched",
                    )
                })?,
            },
            "Rated" => Signal::Rated {
                rating: e.rating.and_then(|r| u8::try_from(r).ok()).ok_or_else(|| {
                    Status::invalid_argument("`viewing_event.rating` is required for Rated")
                })?,
                scale: e
                    .rating_scale
                    .and_then(|s| u8::try_from(s).ok())
                    .unwrap_or(5),
            },
            "Dismissed" => Signal::Dismissed,
            "Added" => Signal::Added,
            other => {
                return Err(Status::invalid_argument(format!(
                "`viewing_event.event_type`: `{other}` is not Watched, Rated, Dismissed or Added"
            )))
            }
        };
        let at_ms = if e.timestamp_ms > 0 {
            e.timestamp_ms
        } else {
            Utc::now().timestamp_millis()
        };
        let event_id = match e.event_id.as_deref() {
            Some(id) => parse_id("viewing_event.event_id", id)?,
            None => Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("{user}/{content}/{}/{at_ms}/{:?}", e.event_type, signal).as_bytes(),
            ),
        };
        let (recorded, duplicates) = self
            .service
            .commands
            .feedback(
                user,
                vec![Feedback {
                    event_id,
                    content_id: content,
                    signal,
                    at_ms,
                }],
            )
            .await
            .map_err(|e| match e {
                FeedbackWriteError::Invalid(v) => Status::invalid_argument(v.to_string()),
                FeedbackWriteError::Contention => {
                    Status::aborted("too many concurrent writes; retry")
                }
                FeedbackWriteError::Unavailable(m) => {
                    tracing::error!(error = %m, "grpc feedback failed");
                    Status::internal("internal error")
                }
            })?;
        Ok(Response::new(pb::UpdateUserProfileResponse {
            recorded: recorded > 0,
            duplicate: duplicates > 0,
        }))
    }
}
