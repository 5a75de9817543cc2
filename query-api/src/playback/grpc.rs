//! gRPC `mediagw.playback.v1.PlaybackService` (seed §6): the same service as the REST routes,
//! with the caller's access token in the `authorization` metadata.

use std::sync::Arc;

use mediagw_auth::{Caller, TokenService};
use mediagw_domain::auth::Scope;
use mediagw_domain::ValidationErrors;
use tonic::{Request, Response, Status};

use super::contract::{ControlRequest, InitiatePlaybackRequest};
use super::service::PlaybackService;
use crate::error::ApiError;

pub mod pb {
    tonic::include_proto!("mediagw.playback.v1");
}

use pb::playback_service_server::PlaybackService as Rpc;
pub use pb::playback_service_server::PlaybackServiceServer;

pub struct PlaybackGrpc {
    pub service: Arc<PlaybackService>,
    pub tokens: Arc<TokenService>,
}

use crate::grpc_edge::parse_id;

/// As every gRPC service answers, except that a refused session command (ended, already
/// started) is a failed precondition rather than a retryable conflict.
fn status(e: ApiError) -> Status {
    match e {
        ApiError::Conflict(m) => Status::failed_precondition(m),
        other => crate::grpc_edge::status(other),
    }
}

impl PlaybackGrpc {
    async fn caller<T>(&self, req: &Request<T>, scope: Scope) -> Result<Caller, Status> {
        crate::grpc_edge::bearer_caller(&self.tokens, req, scope).await
    }
}

#[tonic::async_trait]
impl Rpc for PlaybackGrpc {
    async fn initiate_playback(
        &self,
        req: Request<pb::InitiatePlaybackRequest>,
    ) -> Result<Response<pb::InitiatePlaybackResponse>, Status> {
        let caller = self.caller(&req, Scope::WritePlayback).await?;
        let r = req.into_inner();
        let body = InitiatePlaybackRequest {
            content_id: parse_id("content_id", &r.content_id)?,
            device_id: parse_id("device_id", &r.device_id)?,
            preferred_platform: r.preferred_platform,
            quality_preference: r.quality_preference,
            resume: r.resume,
        };
        let mut errors = ValidationErrors::default();
        let wish = super::http::wish(
            body.preferred_platform.as_deref(),
            body.quality_preference.as_deref(),
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(status(ApiError::Invalid(errors)));
        }
        let a = self
            .service
            .initiate(caller.user_id, &body, wish)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::InitiatePlaybackResponse {
            deep_link: a.deep_link,
            web_fallback: a.web_fallback,
            session_id: a.session_id.to_string(),
            platform: a.platform,
            resume_position_ms: a.resume_position_ms,
            reason: a.reason,
            availability_type: a.availability_type,
            price_amount: a.price_amount.map(|p| p.to_string()),
            price_currency: a.price_currency,
            native_app: a.native_app,
            alternatives: a
                .alternatives
                .into_iter()
                .map(|x| pb::Alternative {
                    platform: x.platform,
                    availability_type: x.availability_type,
                    price_amount: x.price_amount.map(|p| p.to_string()),
                    price_currency: x.price_currency,
                    deep_link: x.deep_link,
                    web_fallback: x.web_fallback,
                    reason: x.reason,
                })
                .collect(),
        }))
    }

    async fn control_playback(
        &self,
        req: Request<pb::ControlPlaybackRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let caller = self.caller(&req, Scope::WritePlayback).await?;
        let r = req.into_inner();
        let body = ControlRequest {
            session_id: parse_id("session_id", &r.session_id)?,
            command: r.command,
            position_ms: r.position_ms,
        };
        let command = super::http::control_of(&body).map_err(status)?;
        let s = self
            .service
            .control(caller.user_id, body.session_id, command, body.position_ms)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::Session {
            session_id: s.session_id.to_string(),
            device_id: s.device_id.to_string(),
            content_id: s.content_id.to_string(),
            platform: s.platform,
            state: s.state,
            position_ms: s.position_ms,
        }))
    }

    async fn get_devices(
        &self,
        req: Request<pb::GetDevicesRequest>,
    ) -> Result<Response<pb::DeviceList>, Status> {
        let caller = self.caller(&req, Scope::ReadDevices).await?;
        let user = parse_id("user_id", &req.get_ref().user_id)?;
        caller.require_self(user).map_err(status)?;
        let devices = self.service.devices(user).await.map_err(status)?;
        Ok(Response::new(pb::DeviceList {
            devices: devices
                .into_iter()
                .map(|d| pb::Device {
                    device_id: d.device_id.to_string(),
                    user_id: d.user_id.to_string(),
                    device_name: d.device_name,
                    device_type: d.device_type,
                    capabilities: Some(pb::Capabilities {
                        supports_4k: d.capabilities.supports_4k,
                        supports_hdr: d.capabilities.supports_hdr,
                        supports_dolby_atmos: d.capabilities.supports_dolby_atmos,
                        supported_platforms: d.capabilities.supported_platforms,
                    }),
                    last_seen: d.last_seen.to_rfc3339(),
                    status: format!("{:?}", d.status),
                })
                .collect(),
        }))
    }
}
