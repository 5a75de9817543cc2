//! Imports a person's history (Trakt, Letterboxd, IMDb or our own export, parsed by
//! `mediagw_domain::history`) through the real commands: feedback through `UserInteractions`,
//! watchlist and playback positions through `UserSync`, from an "import" device of the user's.
//!
//! Titles are matched through entity resolution (never created); what does not match is reported
//! with its line. Everything is validated before the first write, so a file with an invalid entry
//! writes nothing; event and operation ids derive from the user and the entry, so importing the
//! same file again records nothing twice.

use std::collections::HashMap;
use std::sync::Arc;

use mediagw_domain::history::{
    Entry, ImportReport, ParsedHistory, Route, Skipped, TitleRef, Unmatched,
};
use mediagw_domain::interaction::{self, Feedback, Signal};
use mediagw_domain::sync::{self, CrdtOperation, Hlc, OperationType};
use mediagw_domain::ValidationErrors;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::CommandError;
use crate::interactions::InteractionService;
use crate::resolution;
use crate::sync::SyncService;

pub struct HistoryImporter {
    pool: PgPool,
    interactions: Arc<InteractionService>,
    sync: Arc<SyncService>,
}

impl HistoryImporter {
    pub fn new(
        pool: PgPool,
        interactions: Arc<InteractionService>,
        sync: Arc<SyncService>,
    ) -> Self {
        Self {
            pool,
            interactions,
            sync,
        }
    }

    /// The user's own device that imported entries are attributed to.
    pub fn import_device(user_id: Uuid) -> Uuid {
        Uuid::new_v5(&user_id, b"mediagw:import-device")
    }

    pub async fn import(
        &self,
        user_id: Uuid,
        parsed: ParsedHistory,
    ) -> Result<ImportReport, CommandError> {
        let mut report = ImportReport {
            user_id,
            entries: parsed.items.len(),
            skipped: parsed.skipped,
            ..ImportReport::default()
        };
        let mut refs: Vec<TitleRef> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let ref_of: Vec<usize> = parsed
            .items
            .iter()
            .map(|item| {
                let key = serde_json::to_string(&item.title).unwrap_or_default();
                *index.entry(key).or_insert_with(|| {
                    refs.push(item.title.clone());
                    refs.len() - 1
                })
            })
            .collect();
        let matches = resolution::lookup(&self.pool, &refs).await?;

        let device = Self::import_device(user_id);
        let id = |kind: &str, key: &str| Uuid::new_v5(&user_id, format!("{kind}:{key}").as_bytes());
        let mut feedback = Vec::new();
        let mut ops = Vec::new();
        for (item, r) in parsed.items.iter().zip(ref_of) {
            let Some(m) = matches[r] else {
                // One line may hold several entries (a diary row: watched and rated): named once.
                let title = item.title.to_string();
                if !report
                    .unmatched
                    .last()
                    .is_some_and(|u| u.line == item.line && u.title == title)
                {
                    report.unmatched.push(Unmatched {
                        line: item.line,
                        title,
                    });
                }
                continue;
            };
            report.matched += 1;
            let at_ms = item.at.timestamp_millis();
            let stamp = Hlc {
                physical_ms: at_ms.max(0) as u64,
                logical: 0,
                device_id: device,
            };
            let signal = match &item.entry {
                Entry::Watched { completion } => Some(Signal::Watched {
                    completion: *completion,
                }),
                Entry::Rated { rating, scale } => Some(Signal::Rated {
                    rating: *rating,
                    scale: *scale,
                }),
                Entry::Added => Some(Signal::Added),
                Entry::Dismissed => Some(Signal::Dismissed),
                Entry::Position { .. } => None,
            };
            if let (Some(signal), true) = (signal, item.route != Route::Sync) {
                feedback.push(Feedback {
                    event_id: id("feedback", &item.source_key),
                    content_id: m.content_id,
                    signal,
                    at_ms,
                });
            }
            if item.route == Route::Feedback {
                continue;
            }
            let operation = match &item.entry {
                Entry::Added => Some(OperationType::WatchlistAdd {
                    content_id: m.content_id,
                    tag: id("tag", &item.source_key),
                }),
                Entry::Position {
                    position_ms,
                    duration_ms,
                    progress,
                } => {
                    let runtime_ms = m.runtime_minutes.map(|r| r as u64 * 60_000);
                    let duration_ms = duration_ms.or(runtime_ms);
                    match (position_ms, progress, duration_ms) {
                        (Some(p), _, _) => Some((*p, duration_ms)),
                        (None, Some(f), Some(d)) => Some(((*f as f64 * d as f64) as u64, Some(d))),
                        _ => {
                            report.skipped.push(Skipped {
                                line: item.line,
                                reason: format!("{}: progress without a known runtime", item.title),
                            });
                            None
                        }
                    }
                    .map(|(position_ms, duration_ms)| {
                        OperationType::PlaybackUpdate {
                            content_id: m.content_id,
                            position_ms,
                            duration_ms,
                        }
                    })
                }
                _ => None,
            };
            if let Some(operation_type) = operation {
                ops.push(CrdtOperation {
                    operation_id: id("operation", &item.source_key),
                    operation_type,
                    timestamp: stamp,
                    device_id: device,
                    payload: serde_json::Value::Null,
                });
            }
        }
        // A person's file may list the same event twice (two exports merged): keep the first.
        let mut seen = std::collections::HashSet::new();
        feedback.retain(|f| seen.insert(f.event_id));
        let mut seen = std::collections::HashSet::new();
        ops.retain(|o| seen.insert(o.operation_id));

        // Validate everything before the first write.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut errors = ValidationErrors::default();
        for chunk in feedback.chunks(interaction::MAX_BATCH) {
            if let Err(e) = interaction::validate_feedback(chunk, now_ms) {
                errors.0.extend(e.0);
            }
        }
        for chunk in ops.chunks(sync::MAX_BATCH) {
            if let Err(e) = self.sync.validate(device, chunk) {
                errors.0.extend(e.0);
            }
        }
        if !errors.is_empty() {
            return Err(CommandError::Validation(errors));
        }

        for chunk in feedback.chunks(interaction::MAX_BATCH) {
            let r = self.interactions.feedback(user_id, chunk.to_vec()).await?;
            report.feedback_recorded += r.recorded;
            report.duplicates += r.duplicates;
        }
        for chunk in ops.chunks(sync::MAX_BATCH) {
            let outcome = self.sync.apply(user_id, device, chunk.to_vec()).await?;
            report.sync_operations += outcome.recorded.len();
            report.duplicates += outcome.duplicates.len();
        }
        if let Some(s) = parsed
            .services
            .filter(|s| s.region.is_some() || !s.services.is_empty())
        {
            report.services_set = self
                .interactions
                .set_services(user_id, s.region, s.services)
                .await?;
        }
        Ok(report)
    }
}
