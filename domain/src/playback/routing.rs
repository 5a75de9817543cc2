//! Best-platform routing: of a title's offers, the one to start on this device now, with a
//! reason a person understands, and the runners-up. Pure: the caller brings the offers, the
//! user's services and the device.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::deeplink::display_name;
use super::device::Capabilities;
use crate::catalog::AvailabilityType;

/// Picture quality, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    Sd,
    Hd,
    Uhd,
}

impl Quality {
    /// `sd`, `hd`, `uhd` (also `4k`, `2160p`, `1080p`, `720p`, `480p`, `fhd`, `hdr`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sd" | "480p" | "576p" => Some(Quality::Sd),
            "hd" | "720p" | "1080p" | "fhd" => Some(Quality::Hd),
            "uhd" | "4k" | "2160p" | "hdr" | "uhd_hdr" => Some(Quality::Uhd),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Sd => "sd",
            Quality::Hd => "hd",
            Quality::Uhd => "uhd",
        }
    }
}

/// An offer as routing sees it (from the catalog's availability rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub platform: String,
    pub region: String,
    pub availability_type: AvailabilityType,
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub video_quality: Option<Quality>,
    pub available_from: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub deep_link: String,
    pub web_url: String,
}

/// Who is asking, where and on what.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub now: DateTime<Utc>,
    pub region: &'a str,
    /// Platforms the user subscribes to.
    pub services: &'a BTreeSet<String>,
    pub capabilities: &'a Capabilities,
    pub preferred_platform: Option<&'a str>,
    pub quality_preference: Option<Quality>,
}

/// How an offer is paid for, in the order routing prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Subscription on one of the user's services.
    Included,
    Free,
    Ads,
    Rent,
    Buy,
    /// Subscription on a service the user does not have.
    Subscribe,
}

impl Tier {
    fn of(c: &Candidate, services: &BTreeSet<String>) -> Tier {
        match c.availability_type {
            AvailabilityType::Subscription if services.contains(&c.platform) => Tier::Included,
            AvailabilityType::Subscription => Tier::Subscribe,
            AvailabilityType::Free => Tier::Free,
            AvailabilityType::Ads => Tier::Ads,
            AvailabilityType::Rent => Tier::Rent,
            AvailabilityType::Buy => Tier::Buy,
        }
    }
}

/// One way to watch, ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Index into the candidates given.
    pub index: usize,
    pub tier: Tier,
    pub reason: String,
}

/// Why an offer cannot be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unusable {
    Expired,
    NotYet,
    OtherRegion,
    UnsupportedPlatform,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub best: Route,
    pub alternatives: Vec<Route>,
}

/// Nothing can be started now; each offer with why not (what the caller tells the user).
#[derive(Debug, Clone, PartialEq)]
pub struct NotAvailable {
    pub unusable: Vec<(usize, Unusable)>,
}

/// Picks the route: available in the region now, on a platform the device supports; the
/// preferred platform when it is one of those; then by [`Tier`], price, and the quality that
/// fits the device (a 4k offer never beats an equal HD one on a device that cannot show 4k).
pub fn route(candidates: &[Candidate], ask: &Ask<'_>) -> Result<Routed, NotAvailable> {
    let mut usable = Vec::new();
    let mut unusable = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match why_not(c, ask) {
            Some(u) => unusable.push((i, u)),
            None => usable.push(i),
        }
    }
    if usable.is_empty() {
        return Err(NotAvailable { unusable });
    }
    let device_max = if ask.capabilities.supports_4k {
        Quality::Uhd
    } else {
        Quality::Hd
    };
    let target = ask
        .quality_preference
        .map_or(device_max, |q| q.min(device_max));
    let preferred = |c: &Candidate| ask.preferred_platform != Some(c.platform.as_str());
    usable.sort_by(|&a, &b| {
        let (ca, cb) = (&candidates[a], &candidates[b]);
        preferred(ca)
            .cmp(&preferred(cb))
            .then(Tier::of(ca, ask.services).cmp(&Tier::of(cb, ask.services)))
            .then(price(ca).cmp(&price(cb)))
            .then(quality_miss(ca, target).cmp(&quality_miss(cb, target)))
            .then(ca.platform.cmp(&cb.platform))
            .then(a.cmp(&b))
    });
    // One route per platform: its best offer (a rental and a purchase on one store are one choice).
    let mut seen = BTreeSet::new();
    let mut routes: Vec<Route> = usable
        .into_iter()
        .filter(|&i| seen.insert(candidates[i].platform.clone()))
        .map(|i| Route {
            index: i,
            tier: Tier::of(&candidates[i], ask.services),
            reason: String::new(),
        })
        .collect();
    let cheapest_rent = routes
        .iter()
        .filter(|r| r.tier == Tier::Rent)
        .min_by_key(|r| price(&candidates[r.index]))
        .map(|r| r.index);
    for (rank, r) in routes.iter_mut().enumerate() {
        let c = &candidates[r.index];
        r.reason = reason(
            c,
            r.tier,
            rank == 0 && ask.preferred_platform == Some(c.platform.as_str()),
            cheapest_rent == Some(r.index),
        );
    }
    let best = routes.remove(0);
    Ok(Routed {
        best,
        alternatives: routes,
    })
}

fn why_not(c: &Candidate, ask: &Ask<'_>) -> Option<Unusable> {
    if c.expires_at.is_some_and(|e| e <= ask.now) {
        Some(Unusable::Expired)
    } else if c.available_from > ask.now {
        Some(Unusable::NotYet)
    } else if !c.region.eq_ignore_ascii_case(ask.region) {
        Some(Unusable::OtherRegion)
    } else if !ask.capabilities.supports_platform(&c.platform) {
        Some(Unusable::UnsupportedPlatform)
    } else {
        None
    }
}

/// Free offers cost nothing; a priced one without an amount sorts after every known price.
fn price(c: &Candidate) -> (u8, Decimal) {
    match (c.availability_type, c.price_amount) {
        (AvailabilityType::Free | AvailabilityType::Ads | AvailabilityType::Subscription, _) => {
            (0, Decimal::ZERO)
        }
        (_, Some(p)) => (0, p),
        (_, None) => (1, Decimal::ZERO),
    }
}

/// How far an offer's quality is from what this device should get (the preference, capped by
/// what the device shows): above it costs a little (nothing gained, often dearer), below it more.
/// An offer that does not say is taken as HD.
fn quality_miss(c: &Candidate, target: Quality) -> u8 {
    let q = c.video_quality.unwrap_or(Quality::Hd);
    match q.cmp(&target) {
        Ordering::Equal => 0,
        Ordering::Greater => 1,
        Ordering::Less => 2 * (target as u8 - q as u8),
    }
}

fn money(c: &Candidate) -> Option<String> {
    let p = c.price_amount?;
    Some(match c.price_currency.as_deref() {
        Some("USD") | None => format!("${p}"),
        Some("EUR") => format!("€{p}"),
        Some("GBP") => format!("£{p}"),
        Some(cur) => format!("{p} {cur}"),
    })
}

fn reason(c: &Candidate, tier: Tier, preferred: bool, cheapest_rent: bool) -> String {
    let name = display_name(&c.platform);
    let base = match tier {
        Tier::Included => format!("included in your {name}"),
        Tier::Free => format!("free on {name}"),
        Tier::Ads => format!("free with ads on {name}"),
        Tier::Rent => match money(c) {
            Some(m) if cheapest_rent => format!("cheapest rental: {m} on {name}"),
            Some(m) => format!("rent for {m} on {name}"),
            None => format!("rent on {name}"),
        },
        Tier::Buy => match money(c) {
            Some(m) => format!("buy for {m} on {name}"),
            None => format!("buy on {name}"),
        },
        Tier::Subscribe => format!("needs a {name} subscription"),
    };
    if preferred {
        format!("{base} (your preferred platform)")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap()
    }

    fn offer(platform: &str, kind: AvailabilityType, price: Option<&str>) -> Candidate {
        Candidate {
            platform: platform.into(),
            region: "US".into(),
            availability_type: kind,
            price_amount: price.map(|p| p.parse().unwrap()),
            price_currency: price.map(|_| "USD".into()),
            video_quality: None,
            available_from: now() - chrono::Duration::days(30),
            expires_at: None,
            deep_link: String::new(),
            web_url: String::new(),
        }
    }

    struct Given {
        services: BTreeSet<String>,
        caps: Capabilities,
        preferred: Option<&'static str>,
        quality: Option<Quality>,
        region: &'static str,
    }

    impl Given {
        fn new() -> Self {
            Given {
                services: BTreeSet::new(),
                caps: Capabilities::default(),
                preferred: None,
                quality: None,
                region: "US",
            }
        }
        fn route(&self, offers: &[Candidate]) -> Result<Routed, NotAvailable> {
            route(
                offers,
                &Ask {
                    now: now(),
                    region: self.region,
                    services: &self.services,
                    capabilities: &self.caps,
                    preferred_platform: self.preferred,
                    quality_preference: self.quality,
                },
            )
        }
        fn best(&self, offers: &[Candidate]) -> (String, String) {
            let r = self.route(offers).unwrap();
            (offers[r.best.index].platform.clone(), r.best.reason)
        }
    }

    use AvailabilityType::*;

    fn mixed() -> Vec<Candidate> {
        vec![
            offer("apple_tv", Buy, Some("14.99")),
            offer("apple_tv", Rent, Some("3.99")),
            offer("prime_video", Rent, Some("4.99")),
            offer("netflix", Subscription, None),
            offer("tubi", Ads, None),
        ]
    }

    #[test]
    fn the_users_own_service_comes_first() {
        let mut g = Given::new();
        g.services.insert("netflix".into());
        assert_eq!(
            g.best(&mixed()),
            ("netflix".into(), "included in your Netflix".into())
        );
    }

    #[test]
    fn then_free_then_the_cheapest_rental_then_buying() {
        let g = Given::new();
        assert_eq!(
            g.best(&mixed()),
            ("tubi".into(), "free with ads on Tubi".into())
        );
        let rentals = &mixed()[..3];
        assert_eq!(
            g.best(rentals),
            (
                "apple_tv".into(),
                "cheapest rental: $3.99 on Apple TV".into()
            )
        );
        let r = g.route(&mixed()).unwrap();
        let order: Vec<_> = std::iter::once(&r.best)
            .chain(&r.alternatives)
            .map(|r| (mixed()[r.index].platform.clone(), r.tier))
            .collect();
        assert_eq!(
            order,
            [
                ("tubi".to_string(), Tier::Ads),
                ("apple_tv".to_string(), Tier::Rent),
                ("prime_video".to_string(), Tier::Rent),
                ("netflix".to_string(), Tier::Subscribe)
            ],
            "one route per platform, its best offer"
        );
        let buy_only = [offer("apple_tv", Buy, Some("14.99"))];
        assert_eq!(g.best(&buy_only).1, "buy for $14.99 on Apple TV");
        assert_eq!(
            g.best(&[offer("mubi", Free, None), offer("tubi", Ads, None)])
                .0,
            "mubi",
            "free before free with ads"
        );
    }

    #[test]
    fn region_and_time_rule_offers_out_and_say_why() {
        let g = Given::new();
        let mut gb = offer("netflix", Subscription, None);
        gb.region = "GB".into();
        let mut expired = offer("max", Subscription, None);
        expired.expires_at = Some(now() - chrono::Duration::hours(1));
        let mut future = offer("hulu", Subscription, None);
        future.available_from = now() + chrono::Duration::days(3);
        let mut leaving = offer("peacock", Subscription, None);
        leaving.expires_at = Some(now() + chrono::Duration::hours(1));
        let all = [gb.clone(), expired.clone(), future.clone(), leaving];
        assert_eq!(
            g.best(&all).0,
            "peacock",
            "still available until it expires"
        );
        let err = g.route(&all[..3]).unwrap_err();
        assert_eq!(
            err.unusable,
            [
                (0, Unusable::OtherRegion),
                (1, Unusable::Expired),
                (2, Unusable::NotYet)
            ]
        );
        let mut lower = Given::new();
        lower.region = "gb";
        assert_eq!(
            lower.best(&[gb]).0,
            "netflix",
            "regions compare case-insensitively"
        );
    }

    #[test]
    fn only_platforms_the_device_supports() {
        let mut g = Given::new();
        g.caps.supported_platforms = vec!["prime_video".into(), "apple_tv".into()];
        assert_eq!(g.best(&mixed()).0, "apple_tv");
        g.caps.supported_platforms = vec!["hulu".into()];
        let err = g.route(&mixed()).unwrap_err();
        assert!(err
            .unusable
            .iter()
            .all(|(_, u)| *u == Unusable::UnsupportedPlatform));
    }

    #[test]
    fn quality_fits_the_device() {
        let mut uhd = offer("apple_tv", Rent, Some("3.99"));
        uhd.video_quality = Some(Quality::Uhd);
        let mut hd = offer("prime_video", Rent, Some("3.99"));
        hd.video_quality = Some(Quality::Hd);
        let mut sd = offer("vudu", Rent, Some("3.99"));
        sd.video_quality = Some(Quality::Sd);
        let offers = [uhd, hd, sd];
        let mut g = Given::new();
        assert_eq!(
            g.best(&offers).0,
            "prime_video",
            "no 4k over an equal HD offer on an HD device"
        );
        g.caps.supports_4k = true;
        assert_eq!(g.best(&offers).0, "apple_tv", "a 4k device gets 4k");
        g.quality = Some(Quality::Hd);
        assert_eq!(g.best(&offers).0, "prime_video", "the user asked for HD");
        g.quality = Some(Quality::Sd);
        assert_eq!(g.best(&offers).0, "vudu");
        let mut cheaper_sd = offers[2].clone();
        cheaper_sd.price_amount = Some("1.99".parse().unwrap());
        g.quality = None;
        assert_eq!(
            g.best(&[offers[0].clone(), cheaper_sd]).0,
            "vudu",
            "price comes before quality"
        );
    }

    #[test]
    fn the_preferred_platform_wins_when_it_can_play() {
        let mut g = Given::new();
        g.services.insert("netflix".into());
        g.preferred = Some("prime_video");
        assert_eq!(
            g.best(&mixed()),
            (
                "prime_video".into(),
                "rent for $4.99 on Prime Video (your preferred platform)".into()
            )
        );
        g.preferred = Some("disney_plus");
        assert_eq!(
            g.best(&mixed()).0,
            "netflix",
            "not offered: the usual order"
        );
    }

    #[test]
    fn an_unknown_price_sorts_after_known_ones() {
        let g = Given::new();
        let offers = [
            offer("x_store", Rent, None),
            offer("apple_tv", Rent, Some("5.99")),
        ];
        assert_eq!(g.best(&offers).0, "apple_tv");
        assert_eq!(g.best(&offers[..1]).1, "rent on x store");
    }
}
