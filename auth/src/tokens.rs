//! Access tokens: RS256 JWTs with the seed's claims, signed with the current key and verified
//! against the published set. Verification is local (no I/O): ≈ tens of µs.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use mediagw_domain::auth::{Role, Scopes, Tier};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::caller::Caller;
use crate::error::AuthError;
use crate::keys::KeyStore;

/// The seed's JWT payload (§7) plus the client it was issued to and the user's rate-limit tier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub scope: String,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    pub client_id: String,
    pub tier: String,
}

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user_id: Uuid,
    pub client_id: String,
    pub scopes: Scopes,
    pub roles: Vec<Role>,
    pub tier: Tier,
    pub device_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

pub struct TokenService {
    keys: Arc<KeyStore>,
    issuer: String,
    audience: String,
    ttl: Duration,
    validation: Validation,
}

impl TokenService {
    pub fn new(
        keys: Arc<KeyStore>,
        issuer: &str,
        audience: &str,
        ttl: Duration,
        leeway: Duration,
    ) -> Self {
        // RS256 only: `none` and HS256 (the public key used as an HMAC secret) are refused by
        // algorithm before any key is touched.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Self {
            keys,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            ttl,
            validation,
        }
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, grant: &Grant) -> Result<Issued, AuthError> {
        let (kid, key) = self
            .keys
            .signing()
            .ok_or_else(|| AuthError::Internal("no active signing key".into()))?;
        let now = chrono::Utc::now();
        let expires_at = now + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        let jti = Uuid::new_v4();
        let claims = Claims {
            sub: grant.user_id.to_string(),
            iss: self.issuer.clone(),
            aud: vec![self.audience.clone()],
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: jti.to_string(),
            scope: grant.scopes.to_string(),
            roles: grant.roles.iter().map(|r| r.as_str().to_string()).collect(),
            device_id: grant.device_id.clone(),
            client_id: grant.client_id.clone(),
            tier: grant.tier.as_str().to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid);
        let token = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| AuthError::Internal(format!("signing: {e}")))?;
        Ok(Issued {
            token,
            jti,
            expires_at,
        })
    }

    /// Signature, algorithm, kid, exp/nbf (with leeway), iss and aud; then the claims' shape.
    /// Revocation (`jti`) is checked by the gateway against Redis.
    pub async fn validate(&self, token: &str) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::invalid_token("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::invalid_token("unsupported algorithm"));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::invalid_token("token has no `kid`"))?;
        let key = match self.keys.verifier(&kid) {
            Some(k) => k,
            // Perhaps rotated on another instance a moment ago: read the set once more (at most
            // once a second, so unknown kids cannot turn into a database load).
            None => {
                self.keys.reload_on_demand().await?;
                self.keys
                    .verifier(&kid)
                    .ok_or_else(|| AuthError::invalid_token("unknown signing key"))?
            }
        };
        self.validate_with(token, &key)
    }

    /// The CPU part of [`Self::validate`] (benchmarked alone).
    pub fn validate_with(
        &self,
        token: &str,
        key: &jsonwebtoken::DecodingKey,
    ) -> Result<Caller, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            AuthError::invalid_token(match e.kind() {
                ExpiredSignature => "token expired",
                ImmatureSignature => "token not yet valid",
                InvalidIssuer => "wrong issuer",
                InvalidAudience => "wrong audience",
                InvalidSignature => "bad signature",
                InvalidAlgorithm => "unsupported algorithm",
                MissingRequiredClaim(_) => "a required claim is missing",
                _ => "malformed token",
            })
        })?;
        caller(&data.claims)
    }
}

/// The caller a verified token describes; claims of the wrong shape make the token invalid.
fn caller(c: &Claims) -> Result<Caller, AuthError> {
    let bad = |what: &str| AuthError::invalid_token(&format!("invalid `{what}` claim"));
    Ok(Caller {
        user_id: Uuid::parse_str(&c.sub).map_err(|_| bad("sub"))?,
        scopes: Scopes::parse(&c.scope).map_err(|_| bad("scope"))?,
        roles: c
            .roles
            .iter()
            .map(|r| Role::parse(r).ok_or_else(|| bad("roles")))
            .collect::<Result<_, _>>()?,
        tier: Tier::parse(&c.tier).ok_or_else(|| bad("tier"))?,
        client_id: c.client_id.clone(),
        device_id: c.device_id.clone(),
        jti: Uuid::parse_str(&c.jti).map_err(|_| bad("jti"))?,
        exp: c.exp,
    })
}
