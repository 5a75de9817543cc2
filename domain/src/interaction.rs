//! A user's feedback on titles (seed §4 `FeedbackEvent`) and the services they subscribe to: the
//! `UserInteractions` aggregate validates them before they become events on `user.interaction`.
//!
//! One aggregate per user, like sync (ADR 0010): a user's feedback is ordered by the aggregate's
//! sequence, and the set of event ids it has seen makes a repeated event an acknowledgement,
//! never a second interaction.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationErrors;

/// Most feedback items one command may carry.
pub const MAX_BATCH: usize = 1000;

/// How far in the future a device clock may put a feedback timestamp.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;

/// What the user did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type")]
pub enum Signal {
    /// Watched `completion` (0–1) of the title.
    Watched { completion: f32 },
    /// Rated `rating` on a 1–5 scale (`scale` 5) or a 0–10 scale (`scale` 10).
    Rated { rating: u8, scale: u8 },
    /// "Not for me": recommendations leave it out and steer away from it.
    Dismissed,
    /// Added to a list (watchlist).
    Added,
}

impl Signal {
    pub fn name(&self) -> &'static str {
        match self {
            Signal::Watched { .. } => "Watched",
            Signal::Rated { .. } => "Rated",
            Signal::Dismissed => "Dismissed",
            Signal::Added => "Added",
        }
    }

    /// A rating as a fraction of its scale (0–1).
    pub fn normalized_rating(&self) -> Option<f32> {
        match *self {
            Signal::Rated { rating, scale: 10 } => Some(rating as f32 / 10.0),
            Signal::Rated { rating, .. } => Some((rating as f32 - 1.0) / 4.0),
            _ => None,
        }
    }
}

/// One piece of feedback. `event_id` is the device's idempotence key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub event_id: Uuid,
    pub content_id: Uuid,
    pub signal: Signal,
    /// When it happened (device clock or the dataset's timestamp), epoch ms.
    pub at_ms: i64,
}

/// A platform the user subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subscription {
    /// Platform slug, as in availability (`netflix`, `max`).
    pub platform: String,
    /// Plan tier (`standard`, `with_ads`, …), when the user says.
    pub tier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteractionCommand {
    /// Feedback from a device, an API client or an import (all or nothing).
    Record {
        user_id: Uuid,
        feedback: Vec<Feedback>,
        now_ms: i64,
    },
    /// Replaces the set of services the user subscribes to (and their region).
    SetServices {
        user_id: Uuid,
        region: Option<String>,
        services: Vec<Subscription>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteractionEvent {
    FeedbackRecorded {
        user_id: Uuid,
        feedback: Feedback,
    },
    ServicesSet {
        user_id: Uuid,
        region: Option<String>,
        services: Vec<Subscription>,
    },
}

impl InteractionEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            InteractionEvent::FeedbackRecorded { .. } => "FeedbackRecorded",
            InteractionEvent::ServicesSet { .. } => "ServicesSet",
        }
    }

    pub fn user_id(&self) -> Uuid {
        match self {
            InteractionEvent::FeedbackRecorded { user_id, .. }
            | InteractionEvent::ServicesSet { user_id, .. } => *user_id,
        }
    }
}

impl crate::event::Event for InteractionEvent {
    fn event_type(&self) -> &'static str {
        InteractionEvent::event_type(self)
    }

    fn event_version(&self) -> &'static str {
        "1.0"
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InteractionError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("command for user {actual} reached the aggregate of user {expected}")]
    WrongAggregate { expected: Uuid, actual: Uuid },
}

/// One user's feedback stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInteractions {
    pub user_id: Option<Uuid>,
    /// Event ids already recorded (idempotence).
    pub seen: BTreeSet<Uuid>,
    pub region: Option<String>,
    pub services: Vec<Subscription>,
}

impl UserInteractions {
    pub const TYPE: &'static str = "UserInteractions";

    pub fn handle(
        &self,
        command: InteractionCommand,
    ) -> Result<Vec<InteractionEvent>, InteractionError> {
        let user = match &command {
            InteractionCommand::Record { user_id, .. }
            | InteractionCommand::SetServices { user_id, .. } => *user_id,
        };
        if let Some(expected) = self.user_id {
            if expected != user {
                return Err(InteractionError::WrongAggregate {
                    expected,
                    actual: user,
                });
            }
        }
        match command {
            InteractionCommand::Record {
                user_id,
                feedback,
                now_ms,
            } => {
                validate_feedback(&feedback, now_ms).map_err(InteractionError::Invalid)?;
                let mut fresh = BTreeSet::new();
                Ok(feedback
                    .into_iter()
                    .filter(|f| !self.seen.contains(&f.event_id) && fresh.insert(f.event_id))
                    .map(|feedback| InteractionEvent::FeedbackRecorded { user_id, feedback })
                    .collect())
            }
            InteractionCommand::SetServices {
                user_id,
                region,
                services,
            } => {
                let (region, services) =
                    validate_services(region, services).map_err(InteractionError::Invalid)?;
                if self.user_id.is_some() && region == self.region && services == self.services {
                    return Ok(vec![]);
                }
                Ok(vec![InteractionEvent::ServicesSet {
                    user_id,
                    region,
                    services,
                }])
            }
        }
    }

    pub fn apply(&mut self, event: InteractionEvent) {
        self.user_id = Some(event.user_id());
        match event {
            InteractionEvent::FeedbackRecorded { feedback, .. } => {
                self.seen.insert(feedback.event_id);
            }
            InteractionEvent::ServicesSet {
                region, services, ..
            } => {
                self.region = region;
                self.services = services;
            }
        }
    }
}

impl crate::event::Aggregate for UserInteractions {
    const TYPE: &'static str = UserInteractions::TYPE;
    type Command = InteractionCommand;
    type Event = InteractionEvent;
    type Error = InteractionError;

    fn handle(&self, command: InteractionCommand) -> Result<Vec<InteractionEvent>, Self::Error> {
        UserInteractions::handle(self, command)
    }

    fn apply(&mut self, event: InteractionEvent) {
        UserInteractions::apply(self, event)
    }
}

/// Checks every item; the error names each bad field (`feedback[3].rating`).
pub fn validate_feedback(feedback: &[Feedback], now_ms: i64) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if feedback.is_empty() {
        errors.push("feedback", "at least one event is required");
    }
    if feedback.len() > MAX_BATCH {
        errors.push(
            "feedback",
            format!("at most {MAX_BATCH} events per request"),
        );
    }
    for (i, f) in feedback.iter().enumerate() {
        let field = |name: &str| format!("feedback[{i}].{name}");
        if f.event_id.is_nil() {
            errors.push(field("event_id"), "must not be the nil UUID");
        }
        if f.content_id.is_nil() {
            errors.push(field("content_id"), "must not be the nil UUID");
        }
        if f.at_ms <= 0 {
            errors.push(field("timestamp"), "must be after 1970");
        } else if f.at_ms > now_ms + MAX_FUTURE_MS {
            errors.push(field("timestamp"), "is in the future");
        }
        match f.signal {
            Signal::Watched { completion } => {
                if !(0.0..=1.0).contains(&completion) {
                    errors.push(field("completion_rate"), "must be between 0.0 and 1.0");
                }
            }
            Signal::Rated { rating, scale } => match scale {
                5 if !(1..=5).contains(&rating) => {
                    errors.push(field("rating"), "must be 1–5 on rating_scale 5");
                }
                10 if rating > 10 => {
                    errors.push(field("rating"), "must be 0–10 on rating_scale 10");
                }
                5 | 10 => {}
                _ => errors.push(field("rating_scale"), "must be 5 or 10"),
            },
            Signal::Dismissed | Signal::Added => {}
        }
    }
    errors.into_result(())
}

/// Platform slugs are lower-case `[a-z0-9_+-]`, one entry each; the region is ISO 3166-1 alpha-2.
fn validate_services(
    region: Option<String>,
    services: Vec<Subscription>,
) -> Result<(Option<String>, Vec<Subscription>), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let region = match region {
        Some(raw) => {
            let r = crate::catalog::normalize_region(&raw);
            if r.is_none() {
                errors.push(
                    "region",
                    "must be an ISO 3166-1 country code (`US` or `USA`)",
                );
            }
            r
        }
        None => None,
    };
    if services.len() > 50 {
        errors.push("services", "at most 50 services");
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(services.len());
    for (i, s) in services.into_iter().enumerate() {
        let platform = s.platform.trim().to_ascii_lowercase();
        let ok = !platform.is_empty()
            && platform.len() <= 50
            && platform
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c));
        if !ok {
            errors.push(
                format!("services[{i}].platform"),
                "must be a platform slug such as `netflix`",
            );
        } else if !seen.insert(platform.clone()) {
            errors.push(format!("services[{i}].platform"), "is listed twice");
        }
        let tier = s
            .tier
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if tier.as_ref().is_some_and(|t| t.len() > 50) {
            errors.push(format!("services[{i}].tier"), "at most 50 characters");
        }
        out.push(Subscription { platform, tier });
    }
    out.sort();
    errors.into_result((region, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    fn fb(id: u128, signal: Signal) -> Feedback {
        Feedback {
            event_id: Uuid::from_u128(id),
            content_id: Uuid::from_u128(1000 + id),
            signal,
            at_ms: NOW - 1000,
        }
    }

    fn record(feedback: Vec<Feedback>) -> InteractionCommand {
        InteractionCommand::Record {
            user_id: Uuid::from_u128(7),
            feedback,
            now_ms: NOW,
        }
    }

    fn given(events: Vec<InteractionEvent>) -> UserInteractions {
        let mut a = UserInteractions::default();
        for e in events {
            a.apply(e);
        }
        a
    }

    #[test]
    fn feedback_becomes_one_event_per_item() {
        let items = vec![
            fb(
                1,
                Signal::Rated {
                    rating: 9,
                    scale: 10,
                },
            ),
            fb(2, Signal::Watched { completion: 0.95 }),
        ];
        let events = given(vec![]).handle(record(items.clone())).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            InteractionEvent::FeedbackRecorded {
                user_id: Uuid::from_u128(7),
                feedback: items[0]
            }
        );
    }

    #[test]
    fn a_repeated_event_id_is_acknowledged_not_doubled() {
        let first = fb(1, Signal::Added);
        let events = given(vec![]).handle(record(vec![first])).unwrap();
        let agg = given(events);
        // Again, and twice in one batch: nothing new.
        assert!(agg.handle(record(vec![first, first])).unwrap().is_empty());
        let events = given(vec![])
            .handle(record(vec![first, first, fb(2, Signal::Dismissed)]))
            .unwrap();
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn bad_items_are_refused_naming_the_field_and_nothing_is_recorded() {
        let bad = vec![
            fb(1, Signal::Added),
            fb(
                2,
                Signal::Rated {
                    rating: 6,
                    scale: 5,
                },
            ),
            fb(
                3,
                Signal::Rated {
                    rating: 3,
                    scale: 7,
                },
            ),
            fb(4, Signal::Watched { completion: 1.5 }),
            Feedback {
                at_ms: NOW + MAX_FUTURE_MS + 1,
                ..fb(5, Signal::Added)
            },
            Feedback {
                content_id: Uuid::nil(),
                ..fb(6, Signal::Added)
            },
        ];
        let Err(InteractionError::Invalid(e)) = given(vec![]).handle(record(bad)) else {
            panic!("expected validation errors");
        };
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "feedback[1].rating",
                "feedback[2].rating_scale",
                "feedback[3].completion_rate",
                "feedback[4].timestamp",
                "feedback[5].content_id"
            ]
        );
        assert!(given(vec![]).handle(record(vec![])).is_err());
    }

    #[test]
    fn ten_point_ratings_accept_zero_and_five_point_ratings_do_not() {
        let agg = given(vec![]);
        assert!(agg
            .handle(record(vec![fb(
                1,
                Signal::Rated {
                    rating: 0,
                    scale: 10
                }
            )]))
            .is_ok());
        assert!(agg
            .handle(record(vec![fb(
                1,
                Signal::Rated {
                    rating: 0,
                    scale: 5
                }
            )]))
            .is_err());
    }

    #[test]
    fn services_are_normalised_and_unchanged_services_record_nothing() {
        let set = |services: Vec<(&str, Option<&str>)>| InteractionCommand::SetServices {
            user_id: Uuid::from_u128(7),
            region: Some("us".into()),
            services: services
                .into_iter()
                .map(|(p, t)| Subscription {
                    platform: p.into(),
                    tier: t.map(Into::into),
                })
                .collect(),
        };
        let events = given(vec![])
            .handle(set(vec![("Netflix", Some("standard")), ("max", None)]))
            .unwrap();
        let InteractionEvent::ServicesSet {
            region, services, ..
        } = &events[0]
        else {
            panic!()
        };
        assert_eq!(region.as_deref(), Some("US"));
        assert_eq!(services[0].platform, "max");
        assert_eq!(services[1].platform, "netflix");
        let agg = given(events);
        assert!(agg
            .handle(set(vec![("netflix", Some("standard")), ("max", None)]))
            .unwrap()
            .is_empty());
        let Err(InteractionError::Invalid(e)) = agg.handle(set(vec![("net flix", None)])) else {
            panic!()
        };
        assert_eq!(e.0[0].field, "services[0].platform");
    }

    #[test]
    fn another_users_command_is_refused() {
        let agg = given(
            given(vec![])
                .handle(record(vec![fb(1, Signal::Added)]))
                .unwrap(),
        );
        let other = InteractionCommand::Record {
            user_id: Uuid::from_u128(8),
            feedback: vec![fb(2, Signal::Added)],
            now_ms: NOW,
        };
        assert!(matches!(
            agg.handle(other),
            Err(InteractionError::WrongAggregate { .. })
        ));
    }
}
