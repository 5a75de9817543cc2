//! `mediagw schemas check|register|list` against the configured registry (embedded or external).

use std::path::Path;

use anyhow::Context;
use mediagw_schemas::{subject, SCHEMAS};
use serde_json::{json, Value};

use crate::config::Config;

/// (subject, schema text) for every event schema, from `dir` if given, else the compiled-in files.
fn local_schemas(config: &Config, dir: Option<&Path>) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for s in SCHEMAS {
        let text = match dir {
            Some(d) => {
                let file = d.join(format!(
                    "{}.avsc",
                    s.full_name.rsplit('.').next().unwrap_or(s.full_name)
                ));
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            }
            None => s.text.to_string(),
        };
        apache_avro::Schema::parse_str(&text)
            .with_context(|| format!("{} is not a valid Avro schema", s.full_name))?;
        out.push((
            subject(
                &format!("{}{}", config.kafka.topic_prefix, s.topic),
                s.full_name,
            ),
            text,
        ));
    }
    Ok(out)
}

fn url(config: &Config, path: &str) -> String {
    format!("{}/{}", config.registry.url.trim_end_matches('/'), path)
}

/// Exit status 1 when any schema is incompatible with what the registry holds.
pub async fn check(config: &Config, dir: Option<&Path>) -> anyhow::Result<bool> {
    let http = reqwest::Client::new();
    let mut ok = true;
    for (subject, text) in local_schemas(config, dir)? {
        let resp = http
            .post(url(
                config,
                &format!("compatibility/subjects/{subject}/versions/latest"),
            ))
            .json(&json!({"schema": text}))
            .send()
            .await
            .with_context(|| format!("schema registry at {}", config.registry.url))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        if status.as_u16() == 404 {
            println!("new         {subject}");
        } else if status.is_success() && body["is_compatible"] == json!(true) {
            println!("compatible  {subject}");
        } else if status.is_success() {
            ok = false;
            println!("INCOMPATIBLE {subject}");
            for m in body["messages"].as_array().into_iter().flatten() {
                println!("    {}", m.as_str().unwrap_or_default());
            }
        } else {
            anyhow::bail!("registry answered {status} for {subject}: {body}");
        }
    }
    Ok(ok)
}

pub async fn register(config: &Config, dir: Option<&Path>) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for (subject, text) in local_schemas(config, dir)? {
        let mut req = http
            .post(url(config, &format!("subjects/{subject}/versions")))
            .json(&json!({"schema": text, "schemaType": "AVRO"}));
        // New versions need an operator's token (or the registry's internal listener as the URL).
        if let Ok(token) = std::env::var("MEDIAGW_TOKEN") {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "registering {subject}: {status} {body}"
        );
        println!("registered  {subject} id={}", body["id"]);
    }
    Ok(())
}

pub async fn list(config: &Config) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let subjects: Vec<String> = http
        .get(url(config, "subjects"))
        .send()
        .await?
        .json()
        .await?;
    for s in subjects {
        let versions: Value = http
            .get(url(config, &format!("subjects/{s}/versions")))
            .send()
            .await?
            .json()
            .await?;
        println!("{s} {versions}");
    }
    Ok(())
}
