//! Identity rules that need no I/O: scopes and roles, PKCE (RFC 7636, S256 only), device user codes
//! (RFC 8628 §6.1) and the audit events that sign-ins and revocations emit. The OAuth server in
//! `query-api` keeps its state in plain tables and calls these rules.

use std::collections::BTreeSet;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The seed's scopes (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "read:content")]
    ReadContent,
    #[serde(rename = "read:preferences")]
    ReadPreferences,
    #[serde(rename = "write:preferences")]
    WritePreferences,
    #[serde(rename = "write:playback")]
    WritePlayback,
    #[serde(rename = "read:devices")]
    ReadDevices,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::ReadContent,
        Scope::ReadPreferences,
        Scope::WritePreferences,
        Scope::WritePlayback,
        Scope::ReadDevices,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadContent => "read:content",
            Scope::ReadPreferences => "read:preferences",
            Scope::WritePreferences => "write:preferences",
            Scope::WritePlayback => "write:playback",
            Scope::ReadDevices => "read:devices",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// What the consent page says the scope allows.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::ReadContent => "search and browse the catalog",
            Scope::ReadPreferences => "read your watchlist, playback positions and settings",
            Scope::WritePreferences => "change your watchlist and settings",
            Scope::WritePlayback => "record what you watch and where you stopped",
            Scope::ReadDevices => "see your signed-in devices",
        }
    }
}

/// A set of scopes; on the wire a space-delimited string (RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(pub BTreeSet<Scope>);

impl Scopes {
    pub fn all() -> Self {
        Scopes(Scope::ALL.into_iter().collect())
    }

    /// Parses a scope string; an unknown scope is an error naming it (`invalid_scope`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for part in s.split(' ').filter(|p| !p.is_empty()) {
            set.insert(Scope::parse(part).ok_or_else(|| format!("unknown scope `{part}`"))?);
        }
        Ok(Scopes(set))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The scopes a grant gets: the requested ones (all the client may have when none are
    /// requested), refused when any is beyond what the client was registered for.
    pub fn grant(requested: Option<&str>, allowed: &Scopes) -> Result<Scopes, String> {
        match requested.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(allowed.clone()),
            Some(s) => {
                let want = Scopes::parse(s)?;
                match want.0.difference(&allowed.0).next() {
                    Some(extra) => Err(format!(
                        "scope `{}` is not allowed for this client",
                        extra.as_str()
                    )),
                    None => Ok(want),
                }
            }
        }
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Rate-limit tier of a signed-in user (seed §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Premium,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Premium => "premium",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "free" => Some(Tier::Free),
            "premium" => Some(Tier::Premium),
            _ => None,
        }
    }
}

/// PKCE with S256 only: `plain` gives no protection against a stolen code and is refused.
pub mod pkce {
    use super::*;

    /// RFC 7636 §4.1: 43-128 characters of `[A-Za-z0-9-._~]`.
    pub fn valid_verifier(v: &str) -> bool {
        (43..=128).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }

    /// A challenge is the base64url (no padding) SHA-256 of a verifier: 43 characters.
    pub fn valid_challenge(c: &str) -> bool {
        c.len() == 43
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    }

    pub fn challenge(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    /// Constant-time comparison of the verifier's challenge with the stored one.
    pub fn verify(verifier: &str, challenge: &str) -> bool {
        valid_verifier(verifier)
            && constant_time_eq(self::challenge(verifier).as_bytes(), challenge.as_bytes())
    }
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Device user codes: 8 characters from 20 consonants (no vowels, so no words; no 0/O, 1/I
/// look-alikes), shown as `BCDF-GHJK`; 20^8 ≈ 2.6·10^10 codes.
pub mod user_code {
    pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
    pub const LEN: usize = 8;

    /// Builds a code from random bytes (rejection sampling keeps it uniform: bytes ≥ 240 are
    /// skipped); `None` when the bytes ran out first.
    pub fn from_random(bytes: &[u8]) -> Option<String> {
        let code: String = bytes
            .iter()
            .filter(|b| **b < 240)
            .take(LEN)
            .map(|b| ALPHABET[(*b % 20) as usize] as char)
            .collect();
        (code.len() == LEN).then_some(code)
    }

    /// What a person typed → the stored form: case, spaces and dashes do not matter.
    pub fn normalize(input: &str) -> Option<String> {
        let code: String = input
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
    }

    pub fn display(code: &str) -> String {
        format!("{}-{}", &code[..4], &code[4..])
    }
}

/// Password rules: long enough to matter, short enough that hashing stays bounded.
pub fn check_password(p: &str) -> Result<(), String> {
    match p.chars().count() {
        n if n < 10 => Err("must be at least 10 characters".into()),
        n if n > 128 => Err("must be at most 128 characters".into()),
        _ => Ok(()),
    }
}

/// A plausible e-mail address (one `@`, a dot in the domain, no spaces); stored lower-cased.
/// A refresh-token family (one sign-in on one device) ends this long after the sign-in, however
/// often it is refreshed: a stolen refresh token cannot live forever by rotating.
pub const REFRESH_FAMILY_MAX_DAYS: i32 = 90;

/// Failed sign-ins an account may have in a row before it backs off.
pub const FREE_SIGN_IN_FAILURES: u32 = 4;
/// The longest an account backs off.
pub const MAX_SIGN_IN_BACKOFF_S: u64 = 900;

/// How long an account waits after `failures` consecutive failed sign-ins: nothing for the first
/// few (typos), then 2 s, 4 s, 8 s … up to 15 minutes. Slows a guesser spread over many addresses
/// without locking the owner out for long.
pub fn sign_in_backoff_s(failures: u32) -> u64 {
    if failures <= FREE_SIGN_IN_FAILURES {
        return 0;
    }
    let exp = (failures - FREE_SIGN_IN_FAILURES).min(20);
    (1u64 << exp).min(MAX_SIGN_IN_BACKOFF_S)
}

pub fn normalize_email(e: &str) -> Result<String, String> {
    let e = e.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
    if ok {
        Ok(e)
    } else {
        Err("must be an e-mail address".into())
    }
}

/// Why a refresh-token family was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The client or user asked (RFC 7009).
    Requested,
    /// A rotated-out refresh token was presented again: the family is presumed stolen.
    RefreshReuse,
    /// An authorization code was redeemed twice (RFC 6749 §4.1.2).
    CodeReuse,
}

/// Audit trail of the auth server. Not the source of truth of auth state (plain tables are), but
/// every sign-in and revocation is recorded and published (`auth.audit`). No e-mail addresses, IPs
/// or secrets: ids only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AuditEvent {
    UserRegistered {
        user_id: Uuid,
    },
    SignedIn {
        user_id: Uuid,
        client_id: Option<String>,
    },
    SignInFailed {
        /// Known when the address exists (wrong password); never the address itself.
        user_id: Option<Uuid>,
        client_id: Option<String>,
    },
    TokensIssued {
        user_id: Uuid,
        client_id: String,
        grant_type: String,
        family_id: Uuid,
    },
    DeviceAuthorized {
        user_id: Uuid,
        client_id: String,
        approved: bool,
    },
    AccessTokenRevoked {
        user_id: Uuid,
        jti: Uuid,
    },
    RefreshFamilyRevoked {
        user_id: Uuid,
        client_id: String,
        family_id: Uuid,
        reason: RevocationReason,
    },
    ClientRegistered {
        client_id: String,
        by: Option<Uuid>,
    },
    SigningKeyRotated {
        kid: String,
    },
    /// An AI agent (OAuth client) acted for the user through MCP, under a remembered consent.
    AgentActed {
        user_id: Uuid,
        client_id: String,
        tool: String,
        scope: String,
    },
    /// The user withdrew an agent's consents.
    AgentConsentRevoked {
        user_id: Uuid,
        client_id: String,
    },
}

impl crate::event::Event for AuditEvent {
    fn event_type(&self) -> &'static str {
        self.kind()
    }

    fn event_version(&self) -> &'static str {
        "1.0"
    }
}

impl AuditEvent {
    /// `aggregate_type` of audit rows in the event store (each event is its own stream).
    pub const TYPE: &'static str = "auth_audit";

    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::UserRegistered { .. } => "UserRegistered",
            AuditEvent::SignedIn { .. } => "SignedIn",
            AuditEvent::SignInFailed { .. } => "SignInFailed",
            AuditEvent::TokensIssued { .. } => "TokensIssued",
            AuditEvent::DeviceAuthorized { .. } => "DeviceAuthorized",
            AuditEvent::AccessTokenRevoked { .. } => "AccessTokenRevoked",
            AuditEvent::RefreshFamilyRevoked { .. } => "RefreshFamilyRevoked",
            AuditEvent::ClientRegistered { .. } => "ClientRegistered",
            AuditEvent::SigningKeyRotated { .. } => "SigningKeyRotated",
            AuditEvent::AgentActed { .. } => "AgentActed",
            AuditEvent::AgentConsentRevoked { .. } => "AgentConsentRevoked",
        }
    }

    /// The user the event is about, when there is one.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            AuditEvent::UserRegistered { user_id }
            | AuditEvent::SignedIn { user_id, .. }
            | AuditEvent::TokensIssued { user_id, .. }
            | AuditEvent::DeviceAuthorized { user_id, .. }
            | AuditEvent::AccessTokenRevoked { user_id, .. }
            | AuditEvent::RefreshFamilyRevoked { user_id, .. }
            | AuditEvent::AgentActed { user_id, .. }
            | AuditEvent::AgentConsentRevoked { user_id, .. } => Some(*user_id),
            AuditEvent::SignInFailed { user_id, .. } => *user_id,
            AuditEvent::ClientRegistered { by, .. } => *by,
            AuditEvent::SigningKeyRotated { .. } => None,
        }
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn a_few_typos_cost_nothing_then_the_wait_doubles_up_to_a_cap() {
        assert_eq!((1..=4).map(sign_in_backoff_s).sum::<u64>(), 0);
        assert_eq!(sign_in_backoff_s(5), 2);
        assert_eq!(sign_in_backoff_s(6), 4);
        assert_eq!(sign_in_backoff_s(12), 256);
        assert_eq!(sign_in_backoff_s(40), MAX_SIGN_IN_BACKOFF_S);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            pkce::challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce::verify(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce::verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        // `plain` would send the verifier itself as the challenge: it never matches.
        assert!(!pkce::verify(verifier, verifier));
        assert!(!pkce::valid_verifier("short"));
        assert!(!pkce::valid_verifier(&"a".repeat(129)));
        assert!(!pkce::valid_verifier(&format!("{}!", "a".repeat(43))));
    }

    #[test]
    fn granted_scopes_never_exceed_the_clients() {
        let allowed = Scopes::parse("read:content read:preferences").unwrap();
        assert_eq!(Scopes::grant(None, &allowed).unwrap(), allowed);
        assert_eq!(
            Scopes::grant(Some("read:content"), &allowed)
                .unwrap()
                .to_string(),
            "read:content"
        );
        let err = Scopes::grant(Some("read:content write:playback"), &allowed).unwrap_err();
        assert!(err.contains("write:playback"), "{err}");
        let err = Scopes::grant(Some("admin"), &allowed).unwrap_err();
        assert!(err.contains("unknown scope `admin`"), "{err}");
        assert_eq!(
            Scopes::parse("write:playback  read:content")
                .unwrap()
                .to_string(),
            "read:content write:playback"
        );
    }

    #[test]
    fn user_codes_are_uniform_unambiguous_and_forgiving_to_type() {
        let code = user_code::from_random(&[0, 19, 20, 239, 240, 255, 5, 6, 7, 8]).unwrap();
        assert_eq!(code, "BZBZHJKL");
        assert_eq!(user_code::from_random(&[250; 20]), None);
        assert_eq!(
            user_code::normalize("bzbz-ghjk").as_deref(),
            Some("BZBZGHJK")
        );
        assert_eq!(user_code::normalize(" BZBZ GHJK "), Some("BZBZGHJK".into()));
        assert_eq!(user_code::normalize("BZBZ-GHJ0"), None);
        assert_eq!(user_code::normalize("AEIOUBCD"), None);
        assert_eq!(user_code::display("BZBZGHJK"), "BZBZ-GHJK");
        for c in user_code::ALPHABET {
            assert!(!b"AEIOU01".contains(c));
        }
    }

    #[test]
    fn passwords_and_emails() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(129)).is_err());
        assert!(check_password("correct horse").is_ok());
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
            "ann@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_events_carry_no_personal_data() {
        let e = AuditEvent::SignInFailed {
            user_id: None,
            client_id: Some("tv".into()),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"type":"SignInFailed","user_id":null,"client_id":"tv"}"#
        );
        assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), e);
        assert_eq!(e.kind(), "SignInFailed");
    }
}
