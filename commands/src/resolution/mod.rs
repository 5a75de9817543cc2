//! Entity resolution on the write side. Scoring is pure (`mediagw_domain::resolution`); this module
//! only stores and fetches. The index is kept by the command side (like `title_identity`) so a
//! decision never waits for a projection.
//!
//! - [`index`]: candidates by blocking key, fingerprints, decisions (written while ingesting).
//! - [`review`]: the grey-zone review queue and merges (operator decisions).

pub(crate) mod index;
mod review;

pub use review::{PendingReview, ReviewDecision};

use std::collections::HashMap;

use mediagw_domain::catalog::ContentType;
use mediagw_domain::history::TitleRef;
use mediagw_domain::resolution::{Fingerprint, Verdict};
use sqlx::PgPool;
use uuid::Uuid;

/// A catalog title an outside reference was matched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub content_id: Uuid,
    pub runtime_minutes: Option<u16>,
}

/// Finds the catalog title each reference names, without creating any (imports of a person's
/// history): by the product's id, then by IMDb/TMDb id, then by title and year through the same
/// fingerprints and blocking keys ingestion uses, accepting only a "same" verdict.
pub async fn lookup(pool: &PgPool, refs: &[TitleRef]) -> Result<Vec<Option<Matched>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut out: Vec<Option<Uuid>> = vec![None; refs.len()];
    // 1. Our own ids (a `mediagw` export of this deployment).
    let ids: Vec<Uuid> = refs.iter().filter_map(|r| r.content_id).collect();
    let live: std::collections::HashSet<Uuid> =
        sqlx::query_scalar("SELECT content_id FROM title_fingerprint WHERE content_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    for (o, r) in out.iter_mut().zip(refs) {
        *o = r.content_id.filter(|c| live.contains(c));
    }
    // 2. External ids, as ingestion claimed them.
    let (mut types, mut values, mut at) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in refs.iter().enumerate().filter(|(i, _)| out[*i].is_none()) {
        for (t, v) in [("imdb", &r.imdb), ("tmdb", &r.tmdb)] {
            if let Some(v) = v {
                types.push(t.to_string());
                values.push(v.clone());
                at.push(i as i32);
            }
        }
    }
    let claimed: Vec<(i32, Uuid)> = sqlx::query_as(
        "SELECT k.i, t.content_id FROM UNNEST($1::text[], $2::text[], $3::int[]) AS k(t, v, i)
         JOIN title_identity t ON t.id_type = k.t AND t.id_value = k.v",
    )
    .bind(&types)
    .bind(&values)
    .bind(&at)
    .fetch_all(&mut *conn)
    .await?;
    for (i, id) in claimed {
        out[i as usize].get_or_insert(id);
    }
    // 3. Title and year.
    let fuzzy: Vec<(usize, Fingerprint)> = refs
        .iter()
        .enumerate()
        .filter(|(i, _)| out[*i].is_none())
        .filter_map(|(i, r)| {
            let content_type = match r.kind.as_deref() {
                Some("series") => ContentType::Series,
                _ => ContentType::Movie,
            };
            Some((
                i,
                Fingerprint {
                    content_type,
                    title: r.title.clone()?,
                    original_title: None,
                    year: r.year?,
                    runtime_minutes: None,
                    cast: vec![],
                    external_ids: Default::default(),
                },
            ))
        })
        .collect();
    let fps: Vec<&Fingerprint> = fuzzy.iter().map(|(_, f)| f).collect();
    let best = index::best_matches(&mut conn, &fps).await?;
    for ((i, _), m) in fuzzy.iter().zip(best) {
        if let Some((id, _)) = m.filter(|(_, m)| m.verdict == Verdict::Same) {
            out[*i] = Some(id);
        }
    }
    // Runtimes, for progress given as a fraction.
    let found: Vec<Uuid> = out.iter().flatten().copied().collect();
    let runtimes: HashMap<Uuid, Option<u16>> = sqlx::query_as::<_, (Uuid, Option<i32>)>(
        "SELECT content_id, (fingerprint->>'runtime_minutes')::int FROM title_fingerprint
         WHERE content_id = ANY($1)",
    )
    .bind(&found)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(id, m)| (id, m.and_then(|m| u16::try_from(m).ok())))
    .collect();
    Ok(out
        .into_iter()
        .map(|o| {
            o.map(|content_id| Matched {
                content_id,
                runtime_minutes: runtimes.get(&content_id).copied().flatten(),
            })
        })
        .collect())
}
