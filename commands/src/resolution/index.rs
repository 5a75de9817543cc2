//! The entity-resolution index: fingerprints and blocking keys that find candidates, and the
//! decision and review-queue rows an ingest writes in its own transaction. Used by ingestion
//! (`titles`, `bulk`); the review workflow that acts on the queue is in `review`.

use std::collections::HashMap;

use mediagw_domain::resolution::{compare, Fingerprint, Match, Verdict};
use sqlx::PgConnection;
use uuid::Uuid;

/// Candidates taken per blocking key. A key shared by more titles than this within three years
/// (a common 4-letter prefix) says little; the record's other keys still find its twin, and one
/// unselective key cannot make a lookup scan thousands of rows.
const MAX_PER_KEY: i64 = 16;

/// The best candidate for each fingerprint (same order), or `None` when nothing scored above
/// "different".
pub(crate) async fn best_matches(
    conn: &mut PgConnection,
    fps: &[&Fingerprint],
) -> Result<Vec<Option<(Uuid, Match)>>, sqlx::Error> {
    let (mut idx, mut keys, mut years) = (Vec::new(), Vec::new(), Vec::new());
    for (i, fp) in fps.iter().enumerate() {
        for k in fp.blocking_hashes() {
            idx.push(i as i32);
            keys.push(k);
            years.push(fp.year);
        }
    }
    let mut out: Vec<Option<(Uuid, Match)>> = vec![None; fps.len()];
    if idx.is_empty() {
        return Ok(out);
    }
    // Which candidates each record shares a key with, then each candidate's fingerprint once.
    let pairs: Vec<(i32, Uuid)> = sqlx::query_as(
        "SELECT DISTINCT k.i, b.content_id
         FROM UNNEST($1::int[], $2::int8[], $3::int[]) AS k(i, hash, year)
         CROSS JOIN LATERAL (
             SELECT content_id FROM title_match_key b
             WHERE b.hash = k.hash AND b.year BETWEEN k.year - 1 AND k.year + 1
             LIMIT $4
         ) b",
    )
    .bind(&idx)
    .bind(&keys)
    .bind(&years)
    .bind(MAX_PER_KEY)
    .fetch_all(&mut *conn)
    .await?;
    if pairs.is_empty() {
        return Ok(out);
    }
    let mut ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    ids.sort_unstable();
    ids.dedup();
    let fingerprints: HashMap<Uuid, Fingerprint> = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT content_id, fingerprint::text FROM title_fingerprint WHERE content_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(id, text)| Some((id, serde_json::from_str(&text).ok()?)))
    .collect();
    for (i, id) in pairs {
        let i = i as usize;
        let Some(candidate) = fingerprints.get(&id) else {
            continue;
        };
        let m = compare(fps[i], candidate);
        if m.verdict == Verdict::Different {
            continue;
        }
        let better = match &out[i] {
            None => true,
            Some((cur, best)) => {
                m.confidence > best.confidence || (m.confidence == best.confidence && id < *cur)
            }
        };
        if better {
            out[i] = Some((id, m));
        }
    }
    Ok(out)
}

/// Stores fingerprints of live titles (`replace`: the title's own record) or adds the blocking keys
/// of a variant merged into it (`replace = false`), so later variants find it too.
pub(crate) async fn index(
    conn: &mut PgConnection,
    items: &[(Uuid, &Fingerprint, bool)],
) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    // One row per title (the last record of it in this batch): an upsert may touch a row once.
    let mut last: std::collections::HashMap<Uuid, &Fingerprint> = std::collections::HashMap::new();
    for (id, fp, replace) in items {
        if *replace {
            last.insert(*id, fp);
        }
    }
    let (replaced, fps): (Vec<Uuid>, Vec<String>) = last
        .into_iter()
        .map(|(id, fp)| (id, serde_json::to_string(fp).unwrap_or_default()))
        .unzip();
    sqlx::query(
        "INSERT INTO title_fingerprint (content_id, fingerprint)
         SELECT * FROM UNNEST($1::uuid[], $2::jsonb[])
         ON CONFLICT (content_id) DO UPDATE SET fingerprint = CASE
            -- A re-release listed years later, or an edition (the held title with words after
            -- it, dated a later year: Avatar: Special Edition), keeps the work's name and date
            -- (domain/src/title.rs), so its fingerprint stays the work's: later records of the
            -- original still find it.
            WHEN (EXCLUDED.fingerprint->>'year')::int > (title_fingerprint.fingerprint->>'year')::int + 1
              OR ((EXCLUDED.fingerprint->>'year')::int > (title_fingerprint.fingerprint->>'year')::int
                  AND starts_with(lower(EXCLUDED.fingerprint->>'title'), lower(title_fingerprint.fingerprint->>'title'))
                  AND substr(lower(EXCLUDED.fingerprint->>'title'),
                             length(title_fingerprint.fingerprint->>'title') + 1, 1) ~ '^[^[:alnum:]]$')
            THEN title_fingerprint.fingerprint
            -- A field the record leaves out (null, no cast) keeps what is known.
            ELSE title_fingerprint.fingerprint || jsonb_strip_nulls(EXCLUDED.fingerprint) ||
                CASE WHEN jsonb_array_length(EXCLUDED.fingerprint->'cast') = 0
                     THEN jsonb_build_object('cast', title_fingerprint.fingerprint->'cast')
                     ELSE '{}'::jsonb END
            END",
    )
    .bind(&replaced)
    .bind(&fps)
    .execute(&mut *conn)
    .await?;
    let (mut keys, mut years, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for (id, fp, _) in items {
        for k in fp.blocking_hashes() {
            keys.push(k);
            years.push(fp.year);
            ids.push(*id);
        }
    }
    sqlx::query(
        "INSERT INTO title_match_key (hash, year, content_id)
         SELECT * FROM UNNEST($1::int8[], $2::int[], $3::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(&keys)
    .bind(&years)
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn record_decision(
    conn: &mut PgConnection,
    content_id: Uuid,
    candidate_id: Uuid,
    decision: &str,
    m: &Match,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resolution_decision (content_id, candidate_id, decision, confidence, reasons)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(content_id)
    .bind(candidate_id)
    .bind(decision)
    .bind(m.confidence)
    .bind(&m.reasons)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn enqueue_review(
    conn: &mut PgConnection,
    content_id: Uuid,
    candidate_id: Uuid,
    m: &Match,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resolution_review (id, content_id, candidate_id, confidence, reasons)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (content_id, candidate_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(content_id)
    .bind(candidate_id)
    .bind(m.confidence)
    .bind(&m.reasons)
    .execute(&mut *conn)
    .await?;
    record_decision(conn, content_id, candidate_id, "queued_for_review", m).await
}
