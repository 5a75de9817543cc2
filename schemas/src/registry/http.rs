//! Confluent Schema Registry REST routes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::store::{RegistryError, RegistryStore};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Marks a request allowed to change the registry (new versions, deletes, compatibility levels):
/// set by the serving process for an operator's token (role `admin`) and on the internal
/// listener. Everyone else may read, and may "register" a schema that is already registered
/// (what a producer's serializer does to learn its id), nothing more.
#[derive(Debug, Clone, Copy)]
pub struct WriteAccess;

type Access = Option<axum::Extension<WriteAccess>>;

fn require_write(access: &Access) -> Result<(), ApiError> {
    access.map(|_| ()).ok_or_else(|| {
        ApiError(
            StatusCode::FORBIDDEN,
            40301,
            "changing the registry needs an operator token (role admin) or the internal listener"
                .into(),
        )
    })
}

pub fn router(store: RegistryStore) -> Router {
    Router::new()
        .route("/", get(|| async { reply(json!({})) }))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/types", get(|| async { reply(json!(["AVRO"])) }))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(raw_version),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility_all),
        )
        .route("/config", get(global_config).put(set_global_config))
        .route(
            "/config/{subject}",
            get(subject_config).put(set_subject_config),
        )
        .with_state(store)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: String,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Value>,
}

#[derive(Deserialize)]
struct ConfigBody {
    compatibility: String,
}

/// Registry clients differ in the content type they send; accept any body that is JSON.
fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("Invalid request body: {e}"),
        )
    })
}

fn schema_body(bytes: &Bytes) -> Result<SchemaBody, ApiError> {
    let b: SchemaBody = body(bytes)?;
    if !b.references.is_empty() {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            "Schema references are not supported".into(),
        ));
    }
    Ok(b)
}

struct ApiError(StatusCode, u32, String);

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let (status, code) = match &e {
            RegistryError::SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            RegistryError::VersionNotFound(..) => (StatusCode::NOT_FOUND, 40402),
            RegistryError::SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            RegistryError::InvalidSchema(_) | RegistryError::UnsupportedType(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, 42201)
            }
            RegistryError::InvalidLevel(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42203),
            RegistryError::Incompatible { .. } => (StatusCode::CONFLICT, 409),
            RegistryError::Db(_) | RegistryError::Migrate(_) => {
                tracing::error!(error = %e, "schema registry store failed");
                return ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    50001,
                    "Error in the backend data store".into(),
                );
            }
        };
        ApiError(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = reply(json!({"error_code": self.1, "message": self.2}));
        *r.status_mut() = self.0;
        r
    }
}

fn reply(v: Value) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], v.to_string()).into_response()
}

type Res = Result<Response, ApiError>;

async fn schema_by_id(State(s): State<RegistryStore>, Path(id): Path<i64>) -> Res {
    Ok(reply(json!({"schema": s.schema_by_id(id).await?})))
}

async fn raw_schema_by_id(State(s): State<RegistryStore>, Path(id): Path<i64>) -> Res {
    Ok((
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        s.schema_by_id(id).await?,
    )
        .into_response())
}

async fn subjects(State(s): State<RegistryStore>) -> Res {
    Ok(reply(json!(s.subjects().await?)))
}

async fn versions(State(s): State<RegistryStore>, Path(subject): Path<String>) -> Res {
    Ok(reply(json!(s.versions(&subject).await?)))
}

async fn version(
    State(s): State<RegistryStore>,
    Path((subject, version)): Path<(String, String)>,
) -> Res {
    Ok(reply(json!(s.version(&subject, &version).await?)))
}

async fn raw_version(
    State(s): State<RegistryStore>,
    Path((subject, version)): Path<(String, String)>,
) -> Res {
    Ok((
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        s.version(&subject, &version).await?.schema,
    )
        .into_response())
}

async fn register(
    State(s): State<RegistryStore>,
    access: Access,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Res {
    let b = schema_body(&bytes)?;
    if access.is_none() {
        // Idempotent re-registration is a lookup; a new version needs write access.
        return match s
            .lookup(&subject, &b.schema, b.schema_type.as_deref())
            .await
        {
            Ok(v) => Ok(reply(json!({"id": v.id}))),
            Err(RegistryError::SchemaNotFound(_) | RegistryError::SubjectNotFound(_)) => {
                require_write(&access).map(|()| reply(json!({})))
            }
            Err(e) => Err(e.into()),
        };
    }
    let id = s
        .register(&subject, &b.schema, b.schema_type.as_deref())
        .await?;
    Ok(reply(json!({"id": id})))
}

async fn lookup(State(s): State<RegistryStore>, Path(subject): Path<String>, bytes: Bytes) -> Res {
    let b = schema_body(&bytes)?;
    Ok(reply(json!(
        s.lookup(&subject, &b.schema, b.schema_type.as_deref())
            .await?
    )))
}

async fn delete_subject(
    State(s): State<RegistryStore>,
    access: Access,
    Path(subject): Path<String>,
) -> Res {
    require_write(&access)?;
    Ok(reply(json!(s.delete_subject(&subject).await?)))
}

async fn compatibility(
    State(s): State<RegistryStore>,
    Path((subject, version)): Path<(String, String)>,
    bytes: Bytes,
) -> Res {
    let b = schema_body(&bytes)?;
    let reasons = s
        .compatible(&subject, &version, &b.schema, b.schema_type.as_deref())
        .await?;
    Ok(reply(
        json!({"is_compatible": reasons.is_empty(), "messages": reasons}),
    ))
}

async fn compatibility_all(
    State(s): State<RegistryStore>,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Res {
    let b = schema_body(&bytes)?;
    let reasons = s
        .compatible(&subject, "all", &b.schema, b.schema_type.as_deref())
        .await?;
    Ok(reply(
        json!({"is_compatible": reasons.is_empty(), "messages": reasons}),
    ))
}

async fn global_config(State(s): State<RegistryStore>) -> Res {
    let level = s
        .level(None)
        .await?
        .map(|l| l.as_str())
        .unwrap_or("BACKWARD");
    Ok(reply(json!({"compatibilityLevel": level})))
}

async fn set_global_config(State(s): State<RegistryStore>, access: Access, bytes: Bytes) -> Res {
    require_write(&access)?;
    let b: ConfigBody = body(&bytes)?;
    Ok(reply(
        json!({"compatibility": s.set_level(None, &b.compatibility).await?.as_str()}),
    ))
}

async fn subject_config(State(s): State<RegistryStore>, Path(subject): Path<String>) -> Res {
    match s.level(Some(&subject)).await? {
        Some(l) => Ok(reply(json!({"compatibilityLevel": l.as_str()}))),
        None => Err(RegistryError::SubjectNotFound(subject).into()),
    }
}

async fn set_subject_config(
    State(s): State<RegistryStore>,
    access: Access,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Res {
    require_write(&access)?;
    let b: ConfigBody = body(&bytes)?;
    Ok(reply(
        json!({"compatibility": s.set_level(Some(&subject), &b.compatibility).await?.as_str()}),
    ))
}
