//! PostgreSQL storage of the registry: schemas are deduplicated by Avro canonical form and shared by
//! id across subjects, as Confluent does.

use apache_avro::Schema;
use sqlx::{PgPool, Row};

use super::compat::{self, Compatibility};

/// Empty subject = the global default.
const GLOBAL: &str = "";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {1} not found for subject '{0}'.")]
    VersionNotFound(String, String),
    #[error("Schema {0} not found")]
    SchemaNotFound(i64),
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\": {reasons}")]
    Incompatible { subject: String, reasons: String },
    #[error("Invalid compatibility level `{0}`")]
    InvalidLevel(String),
    #[error("Unsupported schema type `{0}` (only AVRO)")]
    UnsupportedType(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: String,
}

#[derive(Clone)]
pub struct RegistryStore {
    pool: PgPool,
}

impl RegistryStore {
    pub async fn new(pool: PgPool) -> Result<Self, RegistryError> {
        // Versioned migrations (2000s; other crates' versions share the table and are ignored).
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn parse(schema: &str, schema_type: Option<&str>) -> Result<Schema, RegistryError> {
        if let Some(t) = schema_type {
            if !t.eq_ignore_ascii_case("AVRO") {
                return Err(RegistryError::UnsupportedType(t.to_string()));
            }
        }
        Schema::parse_str(schema).map_err(|e| RegistryError::InvalidSchema(e.to_string()))
    }

    pub async fn level(
        &self,
        subject: Option<&str>,
    ) -> Result<Option<Compatibility>, RegistryError> {
        let row =
            sqlx::query("SELECT compatibility FROM schema_registry.config WHERE subject = $1")
                .bind(subject.unwrap_or(GLOBAL))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|r| Compatibility::parse(r.get::<String, _>(0).as_str())))
    }

    /// Subject level, else global level, else BACKWARD.
    pub async fn effective_level(&self, subject: &str) -> Result<Compatibility, RegistryError> {
        if let Some(l) = self.level(Some(subject)).await? {
            return Ok(l);
        }
        Ok(self.level(None).await?.unwrap_or(Compatibility::Backward))
    }

    pub async fn set_level(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<Compatibility, RegistryError> {
        let l = Compatibility::parse(level)
            .ok_or_else(|| RegistryError::InvalidLevel(level.to_string()))?;
        sqlx::query(
            "INSERT INTO schema_registry.config (subject, compatibility) VALUES ($1, $2)
             ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility",
        )
        .bind(subject.unwrap_or(GLOBAL))
        .bind(l.as_str())
        .execute(&self.pool)
        .await?;
        Ok(l)
    }

    /// Registers `schema` under `subject`; idempotent for a schema already there. Returns its id.
    pub async fn register(
        &self,
        subject: &str,
        schema_text: &str,
        schema_type: Option<&str>,
    ) -> Result<i32, RegistryError> {
        let schema = Self::parse(schema_text, schema_type)?;
        let canonical = schema.canonical_form();
        let mut tx = self.pool.begin().await?;
        // One registration per subject at a time keeps version numbers dense and checks consistent.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        let existing = sqlx::query(
            "SELECT v.schema_id, s.canonical, s.schema_text FROM schema_registry.subject_versions v
             JOIN schema_registry.schemas s ON s.id = v.schema_id
             WHERE v.subject = $1 AND NOT v.deleted ORDER BY v.version",
        )
        .bind(subject)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(r) = existing.iter().find(|r| r.get::<String, _>(1) == canonical) {
            return Ok(r.get(0));
        }
        let level = self.effective_level(subject).await?;
        let previous: Vec<Schema> = existing
            .iter()
            .filter_map(|r| Schema::parse_str(r.get::<String, _>(2).as_str()).ok())
            .collect();
        let reasons = compat::check(level, &schema, &previous);
        if !reasons.is_empty() {
            return Err(RegistryError::Incompatible {
                subject: subject.to_string(),
                reasons: reasons.join("; "),
            });
        }
        let id: i32 = sqlx::query_scalar(
            "WITH ins AS (
                INSERT INTO schema_registry.schemas (schema_text, canonical) VALUES ($1, $2)
                ON CONFLICT (canonical) DO NOTHING RETURNING id)
             SELECT id FROM ins UNION ALL SELECT id FROM schema_registry.schemas WHERE canonical = $2 LIMIT 1",
        )
        .bind(schema_text)
        .bind(&canonical)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO schema_registry.subject_versions (subject, version, schema_id)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2 FROM schema_registry.subject_versions WHERE subject = $1",
        )
        .bind(subject)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Is `schema_text` compatible with `version` of `subject` (or all versions for transitive levels)?
    pub async fn compatible(
        &self,
        subject: &str,
        version: &str,
        schema_text: &str,
        schema_type: Option<&str>,
    ) -> Result<Vec<String>, RegistryError> {
        let schema = Self::parse(schema_text, schema_type)?;
        let level = self.effective_level(subject).await?;
        let all = self.versions_full(subject).await?;
        let against: Vec<Schema> = if level.transitive() || version == "all" {
            all.iter()
                .filter_map(|v| Schema::parse_str(&v.schema).ok())
                .collect()
        } else {
            let v = self.version(subject, version).await?;
            vec![Self::parse(&v.schema, None)?]
        };
        Ok(compat::check(level, &schema, &against))
    }

    pub async fn schema_by_id(&self, id: i64) -> Result<String, RegistryError> {
        sqlx::query_scalar("SELECT schema_text FROM schema_registry.schemas WHERE id = $1")
            .bind(id as i32)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(RegistryError::SchemaNotFound(id))
    }

    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT subject FROM schema_registry.subject_versions WHERE NOT deleted ORDER BY subject",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn versions_full(&self, subject: &str) -> Result<Vec<SubjectVersion>, RegistryError> {
        let rows = sqlx::query(
            "SELECT v.version, v.schema_id, s.schema_text FROM schema_registry.subject_versions v
             JOIN schema_registry.schemas s ON s.id = v.schema_id
             WHERE v.subject = $1 AND NOT v.deleted ORDER BY v.version",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(rows
            .into_iter()
            .map(|r| SubjectVersion {
                subject: subject.to_string(),
                version: r.get(0),
                id: r.get(1),
                schema: r.get(2),
            })
            .collect())
    }

    pub async fn versions(&self, subject: &str) -> Result<Vec<i32>, RegistryError> {
        Ok(self
            .versions_full(subject)
            .await?
            .into_iter()
            .map(|v| v.version)
            .collect())
    }

    /// `version` is a number, `latest` or `-1`.
    pub async fn version(
        &self,
        subject: &str,
        version: &str,
    ) -> Result<SubjectVersion, RegistryError> {
        let all = self.versions_full(subject).await?;
        let found = match version {
            "latest" | "-1" => all.last().cloned(),
            v => v
                .parse::<i32>()
                .ok()
                .and_then(|n| all.iter().find(|x| x.version == n).cloned()),
        };
        found
            .ok_or_else(|| RegistryError::VersionNotFound(subject.to_string(), version.to_string()))
    }

    /// The version of `subject` that holds this schema, if any.
    pub async fn lookup(
        &self,
        subject: &str,
        schema_text: &str,
        schema_type: Option<&str>,
    ) -> Result<SubjectVersion, RegistryError> {
        let canonical = Self::parse(schema_text, schema_type)?.canonical_form();
        let all = self.versions_full(subject).await?;
        all.into_iter()
            .find(|v| {
                Schema::parse_str(&v.schema)
                    .map(|s| s.canonical_form() == canonical)
                    .unwrap_or(false)
            })
            .ok_or(RegistryError::SchemaNotFound(-1))
    }

    /// Soft-deletes a subject; returns the versions it had.
    pub async fn delete_subject(&self, subject: &str) -> Result<Vec<i32>, RegistryError> {
        let versions = self.versions(subject).await?;
        sqlx::query(
            "UPDATE schema_registry.subject_versions SET deleted = true WHERE subject = $1",
        )
        .bind(subject)
        .execute(&self.pool)
        .await?;
        Ok(versions)
    }
}
