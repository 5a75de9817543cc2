//! `mediagw auth …`: operator commands for the OAuth server (accounts, clients, keys, tokens).
//! They talk to the database directly, so they are for whoever already holds its credentials.

use std::io::BufRead;

use anyhow::Context;
use mediagw_auth::oauth::clients::check_redirect_uri;
use mediagw_auth::passwords::hash_password;
use mediagw_auth::{store, Grant};
use mediagw_domain::auth::{self as rules, Role, Scopes, Tier};
use uuid::Uuid;

use crate::app::App;

/// Creates a user; the password comes from `MEDIAGW_PASSWORD` or the first line of stdin.
/// Prints the new user's id.
pub async fn add_user(
    app: &App,
    email: &str,
    roles: &[String],
    tier: &str,
    display_name: Option<&str>,
) -> anyhow::Result<()> {
    let email = rules::normalize_email(email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let password = match std::env::var("MEDIAGW_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    rules::check_password(&password).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let roles = parse_roles(roles)?;
    let tier = Tier::parse(tier).context("--tier must be free or premium")?;
    let hash = hash_password(password).await?;
    match store::create_user(&app.pool, &email, &hash, display_name, &roles, tier).await? {
        Some(id) => println!("{id}"),
        None => {
            let existing = store::user_by_email(&app.pool, &email)
                .await?
                .context("user vanished")?;
            eprintln!("{email} exists already");
            println!("{}", existing.id);
        }
    }
    Ok(())
}

fn parse_roles(roles: &[String]) -> anyhow::Result<Vec<Role>> {
    let mut out = vec![Role::User];
    for r in roles {
        let role = Role::parse(r).with_context(|| format!("unknown role `{r}` (user, admin)"))?;
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

pub struct NewClient {
    pub client_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub confidential: bool,
    pub grant_types: Vec<String>,
    pub scope: Option<String>,
    pub third_party: bool,
}

/// Registers a client (idempotent for a fixed `--client-id`); prints it as JSON, with the secret
/// of a new confidential client.
pub async fn add_client(app: &App, c: NewClient) -> anyhow::Result<()> {
    for u in &c.redirect_uris {
        check_redirect_uri(u).map_err(|e| anyhow::anyhow!("--redirect-uri {e}"))?;
    }
    for g in &c.grant_types {
        anyhow::ensure!(
            matches!(
                g.as_str(),
                "authorization_code" | "refresh_token" | "device_code"
            ),
            "unknown grant type `{g}`"
        );
    }
    let scopes = match &c.scope {
        Some(s) => Scopes::parse(s).map_err(|e| anyhow::anyhow!("--scope {e}"))?,
        None => Scopes::all(),
    };
    let created = store::create_client(
        &app.pool,
        &store::NewClient {
            client_id: c.client_id.as_deref(),
            name: &c.name,
            confidential: c.confidential,
            redirect_uris: &c.redirect_uris,
            grant_types: &c.grant_types,
            scopes: &scopes,
            first_party: !c.third_party,
            created_by: None,
        },
    )
    .await?;
    let (client_id, secret, created) = match created {
        Some((id, secret)) => (id, secret, true),
        None => (c.client_id.clone().unwrap_or_default(), None, false),
    };
    println!(
        "{}",
        serde_json::json!({"client_id": client_id, "client_secret": secret, "created": created})
    );
    Ok(())
}

pub async fn rotate_key(app: &App) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let kid = tokens.keys().rotate().await?;
    println!("{kid}");
    Ok(())
}

/// Mints an access token without a sign-in (service accounts, benchmarks, break-glass access).
pub async fn mint(
    app: &App,
    user: Uuid,
    scope: Option<&str>,
    roles: &[String],
    tier: &str,
    device_id: Option<String>,
) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let scopes = match scope {
        Some(s) => Scopes::parse(s).map_err(|e| anyhow::anyhow!("--scope {e}"))?,
        None => Scopes::all(),
    };
    let issued = tokens.issue(&Grant {
        user_id: user,
        client_id: "mediagw-cli".into(),
        scopes,
        roles: parse_roles(roles)?,
        tier: Tier::parse(tier).context("--tier must be free or premium")?,
        device_id,
    })?;
    println!("{}", issued.token);
    Ok(())
}
