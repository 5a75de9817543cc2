//! The title aggregate: one work (film, series…) as the catalog knows it. It decides which events an
//! ingested provider record or an availability change produces; it never performs I/O.

use chrono::Datelike;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::{AudienceRating, CanonicalTitle, ExternalIds, Offer, OfferKey, TitleMetadata};
use crate::event::Upcaster;

/// Commands the title aggregate accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum TitleCommand {
    /// A normalised provider record for this title. `region` scopes its availability list: the list
    /// replaces the offers this `source` reported earlier for that region.
    IngestRecord {
        content_id: Uuid,
        source: String,
        region: String,
        record: CanonicalTitle,
    },
    /// The complete current offer list of `source` in `region` (the availability sync).
    ChangeAvailability {
        source: String,
        region: String,
        offers: Vec<Offer>,
    },
    /// Entity resolution decided that title `from` is this one: take over its ids and offers.
    Absorb {
        from: Uuid,
        external_ids: ExternalIds,
        offers: Vec<(String, Offer)>,
    },
    /// Entity resolution decided that this title is `survivor`: retire it in the survivor's favour.
    MergeInto {
        survivor: Uuid,
        confidence: f32,
        reasons: Vec<String>,
    },
}

/// Everything that happens to a title. Names are past tense; metadata events carry full snapshots so
/// a read model can keep the newest one by sequence, whatever topic delivered it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TitleEvent {
    TitleIngested {
        content_id: Uuid,
        source: String,
        metadata: TitleMetadata,
        external_ids: ExternalIds,
    },
    TitleUpdated {
        source: String,
        metadata: TitleMetadata,
        external_ids: ExternalIds,
    },
    AvailabilityArrived {
        source: String,
        offer: Offer,
    },
    /// Price, links or dates of an existing offer changed; `change` says what mattered most
    /// (since version 2.0; 1.0 payloads are upcast with `updated`).
    AvailabilityUpdated {
        source: String,
        offer: Offer,
        change: OfferChange,
    },
    AvailabilityLeft {
        source: String,
        key: OfferKey,
    },
    /// This title is the same work as `survivor_id`; its id now resolves there.
    TitlesMerged {
        survivor_id: Uuid,
        confidence: f32,
        reasons: Vec<String>,
    },
}

impl crate::event::Event for TitleEvent {
    fn event_type(&self) -> &'static str {
        TitleEvent::event_type(self)
    }

    fn event_version(&self) -> &'static str {
        match self {
            TitleEvent::AvailabilityUpdated { .. } => "2.0",
            _ => "1.0",
        }
    }

    fn upcasters() -> &'static [Upcaster] {
        &[Upcaster {
            event_type: "AvailabilityUpdated",
            from_version: "1.0",
            to_version: "2.0",
            upcast: availability_updated_v2,
        }]
    }
}

/// 1.0 → 2.0: `change` became required; updates recorded before it existed were plain updates.
fn availability_updated_v2(mut payload: serde_json::Value) -> serde_json::Value {
    if let Some(body) = payload
        .get_mut("AvailabilityUpdated")
        .and_then(|b| b.as_object_mut())
    {
        body.entry("change")
            .or_insert_with(|| OfferChange::Updated.as_str().into());
    }
    payload
}

impl crate::event::Aggregate for Title {
    const TYPE: &'static str = Title::TYPE;
    type Command = TitleCommand;
    type Event = TitleEvent;
    type Error = TitleError;

    fn handle(&self, command: TitleCommand) -> Result<Vec<TitleEvent>, TitleError> {
        Title::handle(self, command)
    }

    fn apply(&mut self, event: TitleEvent) {
        Title::apply(self, event)
    }
}

impl TitleEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            TitleEvent::TitleIngested { .. } => "TitleIngested",
            TitleEvent::TitleUpdated { .. } => "TitleUpdated",
            TitleEvent::AvailabilityArrived { .. } => "AvailabilityArrived",
            TitleEvent::AvailabilityUpdated { .. } => "AvailabilityUpdated",
            TitleEvent::AvailabilityLeft { .. } => "AvailabilityLeft",
            TitleEvent::TitlesMerged { .. } => "TitlesMerged",
        }
    }
}

/// What changed in an updated offer, in order of importance to a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferChange {
    PriceChanged,
    /// The offer now ends at a (new) date: "leaving soon".
    ExpirySet,
    /// Links, start date or quality.
    #[default]
    Updated,
}

impl OfferChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferChange::PriceChanged => "price_changed",
            OfferChange::ExpirySet => "expiry_set",
            OfferChange::Updated => "updated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            OfferChange::PriceChanged,
            OfferChange::ExpirySet,
            OfferChange::Updated,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    fn between(old: &Offer, new: &Offer) -> Self {
        if old.price_amount != new.price_amount || old.price_currency != new.price_currency {
            OfferChange::PriceChanged
        } else if new.expires_at.is_some() && old.expires_at != new.expires_at {
            OfferChange::ExpirySet
        } else {
            OfferChange::Updated
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TitleError {
    #[error("title does not exist")]
    NotFound,
    #[error("offer for {platform}/{region} does not belong to region `{expected}`")]
    OfferRegionMismatch {
        platform: String,
        region: String,
        expected: String,
    },
    #[error("ingest addressed to title {expected} was delivered to title {actual}")]
    WrongAggregate { expected: Uuid, actual: Uuid },
    /// The title was merged; commands belong to the survivor.
    #[error("title was merged into {survivor}")]
    Merged { survivor: Uuid },
    #[error("a title cannot be merged into itself")]
    SelfMerge,
}

/// What the aggregate remembers: enough to diff the next record against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Title {
    pub id: Option<Uuid>,
    pub metadata: Option<TitleMetadata>,
    pub external_ids: ExternalIds,
    /// Current offers with the source that reported them.
    pub offers: BTreeMap<OfferKey, (String, Offer)>,
    /// Set once entity resolution retired this title in favour of another.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
}

impl Title {
    pub const TYPE: &'static str = "title";

    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    pub fn handle(&self, command: TitleCommand) -> Result<Vec<TitleEvent>, TitleError> {
        if let Some(survivor) = self.merged_into {
            return match command {
                TitleCommand::MergeInto { survivor: s, .. } if s == survivor => Ok(vec![]),
                _ => Err(TitleError::Merged { survivor }),
            };
        }
        match command {
            TitleCommand::IngestRecord {
                content_id,
                source,
                region,
                record,
            } => {
                if let Some(id) = self.id {
                    if id != content_id {
                        return Err(TitleError::WrongAggregate {
                            expected: content_id,
                            actual: id,
                        });
                    }
                }
                check_region(&region, &record.availability)?;
                let mut record = record;
                if let Some(current) = &self.metadata {
                    keep_known(current, &mut record.metadata);
                }
                let mut events = Vec::new();
                let mut external_ids = self.external_ids.clone();
                // Ids accumulate: a provider that omits an id we already know does not erase it.
                external_ids.extend(record.external_ids.clone());
                match &self.metadata {
                    None => events.push(TitleEvent::TitleIngested {
                        content_id,
                        source: source.clone(),
                        metadata: record.metadata,
                        external_ids,
                    }),
                    Some(current)
                        if *current != record.metadata || external_ids != self.external_ids =>
                    {
                        events.push(TitleEvent::TitleUpdated {
                            source: source.clone(),
                            metadata: record.metadata,
                            external_ids,
                        })
                    }
                    Some(_) => {}
                }
                events.extend(self.diff_offers(&source, &region, record.availability));
                Ok(events)
            }
            TitleCommand::ChangeAvailability {
                source,
                region,
                offers,
            } => {
                if !self.exists() {
                    return Err(TitleError::NotFound);
                }
                check_region(&region, &offers)?;
                Ok(self.diff_offers(&source, &region, offers))
            }
            TitleCommand::Absorb {
                from,
                external_ids,
                offers,
            } => {
                let (Some(id), Some(metadata)) = (self.id, &self.metadata) else {
                    return Err(TitleError::NotFound);
                };
                if from == id {
                    return Err(TitleError::SelfMerge);
                }
                let mut events = Vec::new();
                let mut ids = external_ids;
                // The survivor's own ids win where both have one of a kind.
                ids.extend(self.external_ids.clone());
                if ids != self.external_ids {
                    events.push(TitleEvent::TitleUpdated {
                        source: "resolution".into(),
                        metadata: metadata.clone(),
                        external_ids: ids,
                    });
                }
                for (source, offer) in offers {
                    if !self.offers.contains_key(&offer.key()) {
                        events.push(TitleEvent::AvailabilityArrived { source, offer });
                    }
                }
                Ok(events)
            }
            TitleCommand::MergeInto {
                survivor,
                confidence,
                reasons,
            } => {
                if !self.exists() {
                    return Err(TitleError::NotFound);
                }
                if Some(survivor) == self.id {
                    return Err(TitleError::SelfMerge);
                }
                Ok(vec![TitleEvent::TitlesMerged {
                    survivor_id: survivor,
                    confidence,
                    reasons,
                }])
            }
        }
    }

    /// Events that turn this source's offers in `region` into exactly `offers`.
    fn diff_offers(&self, source: &str, region: &str, offers: Vec<Offer>) -> Vec<TitleEvent> {
        let mut events = Vec::new();
        let incoming: BTreeMap<OfferKey, Offer> =
            offers.into_iter().map(|o| (o.key(), o)).collect();
        for (key, (owner, _)) in &self.offers {
            if owner == source && key.region == region && !incoming.contains_key(key) {
                events.push(TitleEvent::AvailabilityLeft {
                    source: source.to_string(),
                    key: key.clone(),
                });
            }
        }
        for (key, offer) in incoming {
            match self.offers.get(&key) {
                None => events.push(TitleEvent::AvailabilityArrived {
                    source: source.to_string(),
                    offer,
                }),
                Some((_, current)) if *current != offer => {
                    events.push(TitleEvent::AvailabilityUpdated {
                        source: source.to_string(),
                        change: OfferChange::between(current, &offer),
                        offer,
                    })
                }
                Some(_) => {}
            }
        }
        events
    }

    pub fn apply(&mut self, event: TitleEvent) {
        match event {
            TitleEvent::TitleIngested {
                content_id,
                metadata,
                external_ids,
                ..
            } => {
                self.id = Some(content_id);
                self.metadata = Some(metadata);
                self.external_ids = external_ids;
            }
            TitleEvent::TitleUpdated {
                metadata,
                external_ids,
                ..
            } => {
                self.metadata = Some(metadata);
                self.external_ids = external_ids;
            }
            TitleEvent::AvailabilityArrived { source, offer }
            | TitleEvent::AvailabilityUpdated { source, offer, .. } => {
                self.offers.insert(offer.key(), (source, offer));
            }
            TitleEvent::AvailabilityLeft { key, .. } => {
                self.offers.remove(&key);
            }
            TitleEvent::TitlesMerged { survivor_id, .. } => {
                self.merged_into = Some(survivor_id);
                self.offers.clear();
            }
        }
    }
}

/// "Avatar: Special Edition" (2010), "The Lion King in 3D": the title we hold with words after
/// it, dated a later year. Resolution already said it is the same work, so the extra words name an
/// edition, not a better spelling: the work keeps its name and date even a year on (a correction
/// by a year under the same name is still taken). Mirrored by the fingerprint upsert in
/// `commands/src/resolution/index.rs`.
fn is_edition_of(current: &TitleMetadata, m: &TitleMetadata) -> bool {
    let words = |t: &str| -> Vec<String> {
        crate::resolution::fold(t)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (held, new) = (words(&current.title), words(&m.title));
    m.release_date.year() > current.release_date.year()
        && new.len() > held.len()
        && new.starts_with(&held)
}

/// What a new record may not change about a title we already hold.
fn keep_known(current: &TitleMetadata, m: &mut TitleMetadata) {
    // A bare record (a name, a year, maybe genres: a rating dataset's item) says the film exists;
    // it does not re-spell or re-date one we know with a story. A re-release listed years later
    // ("Finding Nemo 3D", 2012, pointing at the 2003 film's article) is the same work: it does
    // not rename or re-date it either.
    let bare = m.overview.is_none()
        && m.cast.is_empty()
        && m.runtime_minutes.is_none()
        && current.overview.is_some();
    let rerelease = m.release_date.year() > current.release_date.year() + 1;
    if bare || rerelease || is_edition_of(current, m) {
        m.title = current.title.clone();
        m.original_title = current.original_title.clone();
        m.release_date = current.release_date;
    }
    if bare {
        m.genres = current.genres.clone();
    }
    // A source that leaves a field out does not erase what another source told us (a rating
    // dataset's overview-less item, a provider without cast such as YouTube).
    if m.cast.is_empty() {
        m.cast = current.cast.clone();
    }
    if m.overview.as_deref().is_none_or(|o| o.trim().is_empty()) {
        m.overview = current.overview.clone();
    }
    if m.original_title.is_none() {
        m.original_title = current.original_title.clone();
    }
    if m.runtime_minutes.is_none() {
        m.runtime_minutes = current.runtime_minutes;
    }
    if m.genres.is_empty() {
        m.genres = current.genres.clone();
    }
    // Providers disagree on ratings; the one with more votes behind it stands.
    m.rating = AudienceRating::better_of(current.rating, m.rating);
}

fn check_region(region: &str, offers: &[Offer]) -> Result<(), TitleError> {
    match offers.iter().find(|o| o.region != region) {
        Some(o) => Err(TitleError::OfferRegionMismatch {
            platform: o.platform.clone(),
            region: o.region.clone(),
            expected: region.to_string(),
        }),
        None => Ok(()),
    }
}

/// Given/when/then for the title aggregate, in the style of cqrs-es's `TestFramework` but free of
/// any runtime.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_v1_availability_update_reads_as_a_plain_update() {
        // Given an AvailabilityUpdated stored before `change` existed (version 1.0),
        let offer = serde_json::json!({
            "platform": "netflix", "region": "US", "availability_type": "subscription",
            "price_amount": null, "price_currency": null, "deep_link": "nflx://1",
            "web_url": "https://netflix.com/title/1", "available_from": "2026-01-01T00:00:00Z",
            "expires_at": null
        });
        let v1 = serde_json::json!({"AvailabilityUpdated": {"source": "generic", "offer": offer}});
        // today's type alone refuses it,
        assert!(serde_json::from_value::<TitleEvent>(v1.clone()).is_err());
        // and through the upcaster it is an update with change `updated`, at version 2.0.
        let event: TitleEvent =
            crate::event::decode("AvailabilityUpdated", "1.0", v1.clone()).unwrap();
        assert!(matches!(
            event,
            TitleEvent::AvailabilityUpdated {
                change: OfferChange::Updated,
                ..
            }
        ));
        assert_eq!(crate::event::Event::event_version(&event), "2.0");
        let (version, _) = crate::event::upcast(
            <TitleEvent as crate::event::Event>::upcasters(),
            "AvailabilityUpdated",
            "1.0",
            v1,
        );
        assert_eq!(version, "2.0");
    }
    use crate::catalog::{AvailabilityType, ContentType};
    use chrono::{NaiveDate, TimeZone, Utc};
    use rust_decimal::Decimal;

    struct Given(Title);

    fn given(events: Vec<TitleEvent>) -> Given {
        let mut t = Title::default();
        events.into_iter().for_each(|e| t.apply(e));
        Given(t)
    }

    impl Given {
        fn when(self, cmd: TitleCommand) -> Result<Vec<TitleEvent>, TitleError> {
            self.0.handle(cmd)
        }
    }

    fn id() -> Uuid {
        Uuid::from_u128(7)
    }

    fn meta(title: &str) -> TitleMetadata {
        TitleMetadata {
            content_type: ContentType::Movie,
            title: title.into(),
            original_title: None,
            overview: Some("A hacker learns the truth.".into()),
            release_date: NaiveDate::from_ymd_opt(1999, 3, 31).unwrap(),
            genres: vec!["action".into()],
            runtime_minutes: Some(136),
            cast: vec![],
            rating: None,
        }
    }

    fn offer(platform: &str, price: Option<i64>) -> Offer {
        Offer {
            platform: platform.into(),
            region: "US".into(),
            availability_type: if price.is_some() {
                AvailabilityType::Rent
            } else {
                AvailabilityType::Subscription
            },
            price_amount: price.map(|p| Decimal::new(p, 2)),
            price_currency: price.map(|_| "USD".into()),
            deep_link: format!("{platform}://title/1"),
            web_url: format!("https://{platform}.example/title/1"),
            available_from: Utc.timestamp_opt(0, 0).unwrap(),
            expires_at: None,
            video_quality: None,
        }
    }

    fn ids() -> ExternalIds {
        [("imdb".to_string(), "tt0133093".to_string())].into()
    }

    fn ingest(title: &str, offers: Vec<Offer>) -> TitleCommand {
        TitleCommand::IngestRecord {
            content_id: id(),
            source: "generic".into(),
            region: "US".into(),
            record: CanonicalTitle {
                external_ids: ids(),
                metadata: meta(title),
                availability: offers,
            },
        }
    }

    /// A record of the same work under `title`, dated `date`, with `cast`.
    fn dated(title: &str, date: (i32, u32, u32), cast: &[&str]) -> TitleCommand {
        let mut cmd = ingest(title, vec![]);
        let TitleCommand::IngestRecord { record, .. } = &mut cmd else {
            unreachable!()
        };
        record.metadata.release_date = NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap();
        record.metadata.cast = cast.iter().map(|c| c.to_string()).collect();
        cmd
    }

    fn ingested() -> TitleEvent {
        TitleEvent::TitleIngested {
            content_id: id(),
            source: "generic".into(),
            metadata: meta("The Matrix"),
            external_ids: ids(),
        }
    }

    #[test]
    fn first_record_creates_the_title_and_its_offers() {
        let events = given(vec![])
            .when(ingest("The Matrix", vec![offer("netflix", None)]))
            .unwrap();
        assert_eq!(
            events,
            vec![
                ingested(),
                TitleEvent::AvailabilityArrived {
                    source: "generic".into(),
                    offer: offer("netflix", None)
                }
            ]
        );
    }

    #[test]
    fn same_record_again_is_a_no_op() {
        let arrived = TitleEvent::AvailabilityArrived {
            source: "generic".into(),
            offer: offer("netflix", None),
        };
        let events = given(vec![ingested(), arrived])
            .when(ingest("The Matrix", vec![offer("netflix", None)]))
            .unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn a_record_without_cast_keeps_the_known_cast() {
        // Given a title whose cast is known,
        let mut with_cast = meta("The Matrix");
        with_cast.cast = vec!["Keanu Reeves".into(), "Carrie-Anne Moss".into()];
        let history = vec![TitleEvent::TitleIngested {
            content_id: id(),
            source: "tmdb".into(),
            metadata: with_cast.clone(),
            external_ids: ids(),
        }];
        // when a provider that lists no cast sends the same title, nothing changes;
        let events = given(history.clone())
            .when(ingest("The Matrix", vec![]))
            .unwrap();
        assert!(events.is_empty(), "{events:?}");
        // and when one sends another cast, it replaces the old one.
        let mut cmd = ingest("The Matrix", vec![]);
        let TitleCommand::IngestRecord { record, .. } = &mut cmd else {
            unreachable!()
        };
        record.metadata.cast = vec!["Laurence Fishburne".into()];
        let events = given(history).when(cmd).unwrap();
        assert!(
            matches!(&events[..], [TitleEvent::TitleUpdated { metadata, .. }] if metadata.cast == ["Laurence Fishburne"]),
            "{events:?}"
        );
    }

    #[test]
    fn the_rating_with_more_votes_behind_it_stands() {
        let rated = |score, votes| {
            let mut cmd = ingest("The Matrix", vec![]);
            let TitleCommand::IngestRecord { record, .. } = &mut cmd else {
                unreachable!()
            };
            record.metadata.rating = Some(AudienceRating { score, votes });
            cmd
        };
        // Given a title TMDb rated 82 from 26,000 votes,
        let mut m = meta("The Matrix");
        m.rating = Some(AudienceRating {
            score: 82,
            votes: 26_000,
        });
        let history = vec![TitleEvent::TitleIngested {
            content_id: id(),
            source: "tmdb".into(),
            metadata: m,
            external_ids: ids(),
        }];
        // when a source without a rating, or one with fewer votes (Watchmode counts none), sends
        // it, the rating stays;
        for cmd in [ingest("The Matrix", vec![]), rated(93, 0)] {
            let events = given(history.clone()).when(cmd).unwrap();
            assert!(events.is_empty(), "{events:?}");
        }
        // and a newer count from TMDb replaces it.
        let events = given(history).when(rated(81, 27_000)).unwrap();
        assert!(
            matches!(&events[..], [TitleEvent::TitleUpdated { metadata, .. }] if metadata.rating == Some(AudienceRating { score: 81, votes: 27_000 })),
            "{events:?}"
        );
    }

    #[test]
    fn a_sparse_record_keeps_what_richer_sources_told_us() {
        // Given a title known with overview, cast, runtime and genres,
        let mut rich = meta("Jaws");
        rich.cast = vec!["Roy Scheider".into()];
        rich.runtime_minutes = Some(124);
        rich.original_title = Some("Jaws".into());
        let known = TitleEvent::TitleIngested {
            content_id: id(),
            source: "wikipedia".into(),
            metadata: rich.clone(),
            external_ids: ids(),
        };
        // when a rating dataset sends the same film with a title, a date and nothing else,
        let mut sparse = rich.clone();
        sparse.overview = None;
        sparse.cast = vec![];
        sparse.runtime_minutes = None;
        sparse.original_title = None;
        sparse.genres = vec![];
        // (spelled and dated its own way: the year only, other genre names),
        sparse.title = "JAWS".into();
        sparse.release_date = NaiveDate::from_ymd_opt(1999, 1, 1).unwrap();
        sparse.genres = vec!["horror".into()];
        let cmd = TitleCommand::IngestRecord {
            content_id: id(),
            source: "movietweetings".into(),
            region: "US".into(),
            record: CanonicalTitle {
                external_ids: ids(),
                metadata: sparse,
                availability: vec![],
            },
        };
        // then nothing is erased or re-spelled (only offers could change, and it sends none).
        let events = given(vec![known.clone()]).when(cmd).unwrap();
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, TitleEvent::TitleUpdated { .. })),
            "{events:?}"
        );
        // And a record that does say something new (a longer overview) still updates.
        let mut richer = rich.clone();
        richer.overview = Some("A shark terrorises a beach town.".into());
        let cmd = TitleCommand::IngestRecord {
            content_id: id(),
            source: "tmdb".into(),
            region: "US".into(),
            record: CanonicalTitle {
                external_ids: ids(),
                metadata: richer,
                availability: vec![],
            },
        };
        let events = given(vec![known]).when(cmd).unwrap();
        assert!(
            matches!(&events[..], [TitleEvent::TitleUpdated { metadata, .. }] if metadata.overview.as_deref() == Some("A shark terrorises a beach town.") && metadata.cast == ["Roy Scheider"]),
            "{events:?}"
        );
    }

    #[test]
    fn re_releases_and_editions_keep_the_works_name_and_date_corrections_do_not() {
        // given the 1999 film,
        let history = vec![ingested()];
        // when the same work arrives as a "3D" re-release years later, or as an edition (its
        // title and more words) a year later,
        for (title, date) in [
            ("The Matrix 3D", (2012, 9, 14)),
            ("The Matrix: Special Edition", (2000, 3, 1)),
        ] {
            let events = given(history.clone())
                .when(dated(title, date, &["Keanu Reeves"]))
                .unwrap();
            // then the rest of its metadata is taken, the name and date stay the original's;
            let [TitleEvent::TitleUpdated { metadata, .. }] = &events[..] else {
                panic!("{title}: {events:?}")
            };
            let held = (metadata.title.as_str(), metadata.release_date.year());
            assert_eq!(held, ("The Matrix", 1999), "{title}");
            assert_eq!(metadata.cast, ["Keanu Reeves"]);
        }
        // while a correction by a year, of the date or of the spelling, is taken.
        for (title, date) in [("The Matrix", (2000, 1, 1)), ("The Matrixx", (2000, 3, 1))] {
            let events = given(history.clone())
                .when(dated(title, date, &[]))
                .unwrap();
            assert!(
                matches!(&events[..], [TitleEvent::TitleUpdated { metadata, .. }] if metadata.title == title && metadata.release_date.year() == 2000),
                "{events:?}"
            );
        }
    }

    #[test]
    fn changed_record_updates_metadata_prices_and_departures() {
        let history = vec![
            ingested(),
            TitleEvent::AvailabilityArrived {
                source: "generic".into(),
                offer: offer("netflix", None),
            },
            TitleEvent::AvailabilityArrived {
                source: "generic".into(),
                offer: offer("apple", Some(399)),
            },
        ];
        let events = given(history)
            .when(ingest("The Matrix (1999)", vec![offer("apple", Some(299))]))
            .unwrap();
        assert_eq!(
            events,
            vec![
                TitleEvent::TitleUpdated {
                    source: "generic".into(),
                    metadata: meta("The Matrix (1999)"),
                    external_ids: ids()
                },
                TitleEvent::AvailabilityLeft {
                    source: "generic".into(),
                    key: offer("netflix", None).key()
                },
                TitleEvent::AvailabilityUpdated {
                    source: "generic".into(),
                    offer: offer("apple", Some(299)),
                    change: OfferChange::PriceChanged,
                },
            ]
        );
    }

    #[test]
    fn another_sources_offers_are_left_alone() {
        let history = vec![
            ingested(),
            TitleEvent::AvailabilityArrived {
                source: "watchmode".into(),
                offer: offer("hulu", None),
            },
        ];
        let events = given(history).when(ingest("The Matrix", vec![])).unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn availability_change_needs_an_existing_title_and_matching_region() {
        let cmd = TitleCommand::ChangeAvailability {
            source: "generic".into(),
            region: "US".into(),
            offers: vec![],
        };
        assert_eq!(given(vec![]).when(cmd), Err(TitleError::NotFound));
        let mut gb = offer("netflix", None);
        gb.region = "GB".into();
        let cmd = TitleCommand::ChangeAvailability {
            source: "generic".into(),
            region: "US".into(),
            offers: vec![gb],
        };
        assert!(matches!(
            given(vec![ingested()]).when(cmd),
            Err(TitleError::OfferRegionMismatch { .. })
        ));
    }

    #[test]
    fn known_ids_are_never_dropped() {
        let mut record = ingest("The Matrix", vec![]);
        if let TitleCommand::IngestRecord { record, .. } = &mut record {
            record.external_ids = [("tmdb_movie".to_string(), "603".to_string())].into();
        }
        let events = given(vec![ingested()]).when(record).unwrap();
        let TitleEvent::TitleUpdated { external_ids, .. } = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(external_ids.len(), 2);
    }

    #[test]
    fn merge_retires_the_title_and_the_survivor_takes_its_ids_and_offers() {
        let survivor = Uuid::from_u128(0x5eed);
        let merged = TitleEvent::TitlesMerged {
            survivor_id: survivor,
            confidence: 0.95,
            reasons: vec!["title matches after normalisation (1.00)".into()],
        };
        let cmd = || TitleCommand::MergeInto {
            survivor,
            confidence: 0.95,
            reasons: vec!["title matches after normalisation (1.00)".into()],
        };
        assert_eq!(
            given(vec![ingested()]).when(cmd()).unwrap(),
            vec![merged.clone()]
        );
        // Idempotent, and every later command is redirected to the survivor.
        let after = given(vec![ingested(), merged]);
        assert_eq!(after.0.handle(cmd()).unwrap(), vec![]);
        assert_eq!(
            after.when(ingest("The Matrix", vec![])),
            Err(TitleError::Merged { survivor })
        );

        let absorb = TitleCommand::Absorb {
            from: Uuid::from_u128(9),
            external_ids: [("tmdb_movie".to_string(), "603".to_string())].into(),
            offers: vec![("tmdb".into(), offer("max", None))],
        };
        let events = given(vec![ingested()]).when(absorb).unwrap();
        assert!(
            matches!(&events[0], TitleEvent::TitleUpdated { external_ids, .. } if external_ids.len() == 2)
        );
        assert!(
            matches!(&events[1], TitleEvent::AvailabilityArrived { offer, .. } if offer.platform == "max")
        );
        assert_eq!(
            given(vec![ingested()]).when(TitleCommand::MergeInto {
                survivor: id(),
                confidence: 1.0,
                reasons: vec![]
            }),
            Err(TitleError::SelfMerge)
        );
    }
}
