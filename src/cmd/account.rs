//! `mediagw export user`, `mediagw import user` and `mediagw erase user`: a user's data rights
//! from the command line, through the same code as the HTTP routes (`crate::account`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mediagw_domain::history::{HistoryFormat, ListKind};
use mediagw_query_api::account::{AccountError, Accounts};
use uuid::Uuid;

use crate::app::App;
use crate::cmd::history::Output;

/// Writes everything held about `user` as one JSON document (the `mediagw` import format).
pub async fn export_user(app: &App, user: Uuid, out: Option<PathBuf>) -> anyhow::Result<()> {
    let accounts = app.accounts(None)?;
    let doc = accounts.export(user).await.map_err(explain)?;
    let mut output = Output::open(out)?;
    if let Err(e) = serde_json::to_writer_pretty(&mut output.writer, &doc)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(output.writer.write_all(b"\n")?))
    {
        return output.abort(e);
    }
    output.commit(&format!(
        "user {user}: {} history events, {} watchlist titles, {} positions",
        doc.history.len(),
        doc.watchlist.len(),
        doc.positions.len()
    ))
}

/// Imports a history file; on malformed entries prints them (`line N: …`) and fails, having
/// written nothing.
pub async fn import_user(
    app: &App,
    user: Uuid,
    format: HistoryFormat,
    list: Option<ListKind>,
    file: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading {} (UTF-8 text)", file.display()))?;
    let list = list.or_else(|| {
        file.file_name()
            .and_then(|n| ListKind::from_file_name(&n.to_string_lossy()))
    });
    let accounts = app.accounts(app.gate_store().await.ok())?;
    match accounts.import(user, format, list, &text).await {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report)?);
            eprintln!(
                "imported {} of {} entries for user {user}: {} feedback events, {} watchlist/position updates, {} already there; {} titles not in the catalog, {} skipped",
                report.matched,
                report.entries,
                report.feedback_recorded,
                report.sync_operations,
                report.duplicates,
                report.unmatched.len(),
                report.skipped.len()
            );
            for u in report.unmatched.iter().take(20) {
                eprintln!("  not found (line {}): {}", u.line, u.title);
            }
            Ok(())
        }
        Err(e) => Err(explain(e)),
    }
}

/// Erases `user` everywhere and prints what was removed.
pub async fn erase_user(app: &App, user: Uuid) -> anyhow::Result<()> {
    let accounts = app.accounts(app.gate_store().await.ok())?;
    let report = accounts.erase(user).await.map_err(explain)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn explain(e: AccountError) -> anyhow::Error {
    match e {
        AccountError::Lines(lines) => {
            for l in &lines {
                eprintln!("{}", l);
            }
            anyhow::anyhow!(
                "the file has {} malformed entries (shown above); nothing was imported",
                lines.len()
            )
        }
        AccountError::Invalid(v) => {
            anyhow::anyhow!("the entries were refused ({v}); nothing was imported")
        }
        other => anyhow::anyhow!(other),
    }
}
