//! Deep links per platform × device type: a table (data, not branches) and the one function that
//! reads it. `{id}` is the platform's own title id, found in the links a provider sent with the
//! offer; where no id can be found the provider's own links are used as they are.
//!
//! Native TV platforms without URL launching (Roku ECP, Tizen app control, webOS launch
//! parameters, Cast receivers) get a URI our TV clients turn into the OS launch call:
//! `roku-ecp://launch/{channel}?contentId=…`, `tizen-app://{app id}?…`, `webos-app://{app id}?…`,
//! `cast://{receiver app id}?contentId=…` (ADR 0018).

use super::device::DeviceType;

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// The platform's app on this device type opens this link.
    App(&'static str),
    /// No app of the platform on this device type (or the device is a browser): the web player.
    Web,
}

#[derive(Debug)]
pub struct PlatformLinks {
    pub slug: &'static str,
    /// Shown to people ("included in your Netflix").
    pub name: &'static str,
    /// Text right before the platform's title id in its links (web or app).
    pub id_markers: &'static [&'static str],
    /// The web player's title page: every cell's fallback.
    pub web: &'static str,
    /// The platform's search page, when no title id is known (`{query}`).
    pub search: &'static str,
    /// One cell per [`DeviceType::ALL`], in that order.
    pub cells: [Cell; 10],
}

use Cell::{App, Web};

/// Columns: ios, android, web, tvos, androidtv, roku, tizen, webos, firetv, chromecast.
pub static TABLE: &[PlatformLinks] = &[
    PlatformLinks {
        slug: "netflix",
        name: "Netflix",
        id_markers: &["netflix.com/title/", "netflix.com/watch/"],
        web: "https://www.netflix.com/title/{id}",
        search: "https://www.netflix.com/search?q={query}",
        cells: [
            App("nflx://www.netflix.com/title/{id}"),
            App("intent://www.netflix.com/title/{id}#Intent;scheme=nflx;package=com.netflix.mediaclient;end"),
            Web,
            App("nflx://www.netflix.com/title/{id}"),
            App("intent://www.netflix.com/title/{id}#Intent;scheme=nflx;package=com.netflix.ninja;end"),
            App("roku-ecp://launch/12?contentId={id}&mediaType=movie"),
            App("tizen-app://11101200001?contentId={id}"),
            App("webos-app://netflix?contentTarget={id}"),
            App("intent://www.netflix.com/title/{id}#Intent;scheme=nflx;package=com.netflix.ninja;end"),
            App("cast://CA5E8412?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "prime_video",
        name: "Prime Video",
        id_markers: &["/detail/", "asin=", "aiv://detail/"],
        web: "https://www.primevideo.com/detail/{id}",
        search: "https://www.primevideo.com/search/?phrase={query}",
        cells: [
            App("aiv://aiv/detail?asin={id}"),
            App("intent://www.primevideo.com/detail/{id}#Intent;scheme=https;package=com.amazon.avod.thirdpartyclient;end"),
            Web,
            App("aiv://aiv/detail?asin={id}"),
            App("intent://www.primevideo.com/detail/{id}#Intent;scheme=https;package=com.amazon.amazonvideo.livingroom;end"),
            App("roku-ecp://launch/13?contentId={id}&mediaType=movie"),
            App("tizen-app://3201512006785?contentId={id}"),
            App("webos-app://amazon?contentTarget={id}"),
            App("intent://www.primevideo.com/detail/{id}#Intent;scheme=https;package=com.amazon.avod;end"),
            App("cast://17608BC8?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "disney_plus",
        name: "Disney+",
        id_markers: &["disneyplus.com/video/", "disneyplus.com/movies/", "disneyplus://video/"],
        web: "https://www.disneyplus.com/video/{id}",
        search: "https://www.disneyplus.com/search?q={query}",
        cells: [
            App("disneyplus://video/{id}"),
            App("intent://www.disneyplus.com/video/{id}#Intent;scheme=disneyplus;package=com.disney.disneyplus;end"),
            Web,
            App("disneyplus://video/{id}"),
            App("intent://www.disneyplus.com/video/{id}#Intent;scheme=disneyplus;package=com.disney.disneyplus;end"),
            App("roku-ecp://launch/291097?contentId={id}&mediaType=movie"),
            App("tizen-app://3201901017640?contentId={id}"),
            App("webos-app://com.disney.disneyplus-prod?contentTarget={id}"),
            App("intent://www.disneyplus.com/video/{id}#Intent;scheme=disneyplus;package=com.disney.disneyplus;end"),
            App("cast://C3DE6BC2?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "max",
        name: "Max",
        id_markers: &["play.max.com/title/", "max://title/", "max.com/movies/"],
        web: "https://play.max.com/title/{id}",
        search: "https://play.max.com/search?q={query}",
        cells: [
            App("max://title/{id}"),
            App("intent://play.max.com/title/{id}#Intent;scheme=max;package=com.wbd.stream;end"),
            Web,
            App("max://title/{id}"),
            App("intent://play.max.com/title/{id}#Intent;scheme=max;package=com.wbd.stream;end"),
            App("roku-ecp://launch/61322?contentId={id}&mediaType=movie"),
            App("tizen-app://3202301029760?contentId={id}"),
            App("webos-app://com.wbd.stream?contentTarget={id}"),
            App("intent://play.max.com/title/{id}#Intent;scheme=max;package=com.wbd.stream;end"),
            App("cast://F6BB3A2C?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "hulu",
        name: "Hulu",
        id_markers: &["hulu.com/watch/", "hulu.com/movie/", "hulu://watch/"],
        web: "https://www.hulu.com/watch/{id}",
        search: "https://www.hulu.com/search?q={query}",
        cells: [
            App("hulu://watch/{id}"),
            App("intent://www.hulu.com/watch/{id}#Intent;scheme=hulu;package=com.hulu.plus;end"),
            Web,
            App("hulu://watch/{id}"),
            App("intent://www.hulu.com/watch/{id}#Intent;scheme=hulu;package=com.hulu.livingroomplus;end"),
            App("roku-ecp://launch/2285?contentId={id}&mediaType=movie"),
            App("tizen-app://3201601007625?contentId={id}"),
            App("webos-app://hulu?contentTarget={id}"),
            App("intent://www.hulu.com/watch/{id}#Intent;scheme=hulu;package=com.hulu.plus;end"),
            App("cast://6D44C8DB?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "apple_tv_plus",
        name: "Apple TV+",
        id_markers: &["tv.apple.com/movie/", "tv.apple.com/show/", "tv.apple.com/us/movie/"],
        web: "https://tv.apple.com/movie/{id}",
        search: "https://tv.apple.com/search?term={query}",
        cells: [
            App("videos://tv.apple.com/movie/{id}"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.androidtv.appletv;end"),
            Web,
            App("videos://tv.apple.com/movie/{id}"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.androidtv.appletv;end"),
            App("roku-ecp://launch/551012?contentId={id}&mediaType=movie"),
            App("tizen-app://3201807016597?contentId={id}"),
            App("webos-app://com.apple.appletv?contentTarget={id}"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.amazon.appletv;end"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.androidtv.appletv;end"),
        ],
    },
    PlatformLinks {
        // The Apple TV store (iTunes rentals and purchases): no Android phone app.
        slug: "apple_tv",
        name: "Apple TV",
        id_markers: &["tv.apple.com/movie/", "tv.apple.com/show/", "tv.apple.com/us/movie/"],
        web: "https://tv.apple.com/movie/{id}",
        search: "https://tv.apple.com/search?term={query}",
        cells: [
            App("videos://tv.apple.com/movie/{id}"),
            Web,
            Web,
            App("videos://tv.apple.com/movie/{id}"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.androidtv.appletv;end"),
            App("roku-ecp://launch/551012?contentId={id}&mediaType=movie"),
            App("tizen-app://3201807016597?contentId={id}"),
            App("webos-app://com.apple.appletv?contentTarget={id}"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.amazon.appletv;end"),
            App("intent://tv.apple.com/movie/{id}#Intent;scheme=https;package=com.apple.atve.androidtv.appletv;end"),
        ],
    },
    PlatformLinks {
        slug: "paramount_plus",
        name: "Paramount+",
        id_markers: &["paramountplus.com/movies/video/", "paramountplus.com/movies/", "paramountplus://movies/"],
        web: "https://www.paramountplus.com/movies/video/{id}/",
        search: "https://www.paramountplus.com/search/?q={query}",
        cells: [
            App("paramountplus://movies/video/{id}"),
            App("intent://www.paramountplus.com/movies/video/{id}/#Intent;scheme=paramountplus;package=com.cbs.app;end"),
            Web,
            App("paramountplus://movies/video/{id}"),
            App("intent://www.paramountplus.com/movies/video/{id}/#Intent;scheme=paramountplus;package=com.cbs.ott;end"),
            App("roku-ecp://launch/31440?contentId={id}&mediaType=movie"),
            App("tizen-app://3201710014981?contentId={id}"),
            App("webos-app://com.cbs-all-access.webapp.prod?contentTarget={id}"),
            App("intent://www.paramountplus.com/movies/video/{id}/#Intent;scheme=paramountplus;package=com.cbs.ott;end"),
            App("cast://DF11C7BA?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "peacock",
        name: "Peacock",
        id_markers: &["peacocktv.com/watch/asset/", "peacocktv.com/watch/playback/vod/", "peacock://asset/"],
        web: "https://www.peacocktv.com/watch/asset/{id}",
        search: "https://www.peacocktv.com/watch/search?q={query}",
        cells: [
            App("peacock://asset/{id}"),
            App("intent://www.peacocktv.com/watch/asset/{id}#Intent;scheme=peacock;package=com.peacocktv.peacockandroid;end"),
            Web,
            App("peacock://asset/{id}"),
            App("intent://www.peacocktv.com/watch/asset/{id}#Intent;scheme=peacock;package=com.peacock.peacocktv;end"),
            App("roku-ecp://launch/593099?contentId={id}&mediaType=movie"),
            App("tizen-app://3202006020991?contentId={id}"),
            App("webos-app://com.peacocktv.webos?contentTarget={id}"),
            App("intent://www.peacocktv.com/watch/asset/{id}#Intent;scheme=peacock;package=com.peacock.peacockfiretv;end"),
            App("cast://3D4F7B2E?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "youtube",
        name: "YouTube",
        id_markers: &["youtube.com/watch?v=", "youtu.be/", "youtube://watch?v=", "v="],
        web: "https://www.youtube.com/watch?v={id}",
        search: "https://www.youtube.com/results?search_query={query}",
        cells: [
            App("youtube://watch?v={id}"),
            App("intent://www.youtube.com/watch?v={id}#Intent;scheme=vnd.youtube;package=com.google.android.youtube;end"),
            Web,
            App("youtube://watch?v={id}"),
            App("intent://www.youtube.com/watch?v={id}#Intent;scheme=vnd.youtube;package=com.google.android.youtube.tv;end"),
            App("roku-ecp://launch/837?contentId={id}&mediaType=movie"),
            App("tizen-app://111299001912?contentId={id}"),
            App("webos-app://youtube.leanback.v4?contentTarget={id}"),
            App("intent://www.youtube.com/watch?v={id}#Intent;scheme=vnd.youtube;package=com.amazon.firetv.youtube;end"),
            App("cast://233637DE?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "tubi",
        name: "Tubi",
        id_markers: &["tubitv.com/movies/", "tubitv.com/series/", "tubitv://media/"],
        web: "https://tubitv.com/movies/{id}",
        search: "https://tubitv.com/search/{query}",
        cells: [
            App("tubitv://media/{id}"),
            App("intent://tubitv.com/movies/{id}#Intent;scheme=tubitv;package=com.tubitv;end"),
            Web,
            App("tubitv://media/{id}"),
            App("intent://tubitv.com/movies/{id}#Intent;scheme=tubitv;package=com.tubitv;end"),
            App("roku-ecp://launch/41468?contentId={id}&mediaType=movie"),
            App("tizen-app://3201504001965?contentId={id}"),
            App("webos-app://tubitv?contentTarget={id}"),
            App("intent://tubitv.com/movies/{id}#Intent;scheme=tubitv;package=com.tubitv.ott;end"),
            App("cast://7D1A2A2F?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "pluto_tv",
        name: "Pluto TV",
        id_markers: &["pluto.tv/on-demand/movies/", "pluto.tv/us/on-demand/movies/", "plutotv://movies/"],
        web: "https://pluto.tv/on-demand/movies/{id}",
        search: "https://pluto.tv/search/details?query={query}",
        cells: [
            App("plutotv://movies/{id}"),
            App("intent://pluto.tv/on-demand/movies/{id}#Intent;scheme=plutotv;package=tv.pluto.android;end"),
            Web,
            App("plutotv://movies/{id}"),
            App("intent://pluto.tv/on-demand/movies/{id}#Intent;scheme=plutotv;package=tv.pluto.android;end"),
            App("roku-ecp://launch/74519?contentId={id}&mediaType=movie"),
            App("tizen-app://3201808016802?contentId={id}"),
            App("webos-app://pluto.tv?contentTarget={id}"),
            App("intent://pluto.tv/on-demand/movies/{id}#Intent;scheme=plutotv;package=tv.pluto.android;end"),
            App("cast://E1B0F9A8?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "crunchyroll",
        name: "Crunchyroll",
        id_markers: &["crunchyroll.com/watch/", "crunchyroll://watch/"],
        web: "https://www.crunchyroll.com/watch/{id}",
        search: "https://www.crunchyroll.com/search?q={query}",
        cells: [
            App("crunchyroll://watch/{id}"),
            App("intent://www.crunchyroll.com/watch/{id}#Intent;scheme=crunchyroll;package=com.crunchyroll.crunchyroid;end"),
            Web,
            App("crunchyroll://watch/{id}"),
            App("intent://www.crunchyroll.com/watch/{id}#Intent;scheme=crunchyroll;package=com.crunchyroll.crunchyroid;end"),
            App("roku-ecp://launch/2595?contentId={id}&mediaType=movie"),
            App("tizen-app://3201710015067?contentId={id}"),
            App("webos-app://crunchyroll?contentTarget={id}"),
            App("intent://www.crunchyroll.com/watch/{id}#Intent;scheme=crunchyroll;package=com.crunchyroll.crunchyroid;end"),
            App("cast://5E6C8CCF?contentId={id}"),
        ],
    },
    PlatformLinks {
        // No webOS app.
        slug: "mubi",
        name: "MUBI",
        id_markers: &["mubi.com/films/", "mubi.com/en/films/", "mubi://films/"],
        web: "https://mubi.com/films/{id}",
        search: "https://mubi.com/search/films?query={query}",
        cells: [
            App("mubi://films/{id}"),
            App("intent://mubi.com/films/{id}#Intent;scheme=mubi;package=com.mubi;end"),
            Web,
            App("mubi://films/{id}"),
            App("intent://mubi.com/films/{id}#Intent;scheme=mubi;package=com.mubi;end"),
            App("roku-ecp://launch/61169?contentId={id}&mediaType=movie"),
            App("tizen-app://3201805016416?contentId={id}"),
            Web,
            App("intent://mubi.com/films/{id}#Intent;scheme=mubi;package=com.mubi;end"),
            App("cast://B8B3F6A1?contentId={id}"),
        ],
    },
    PlatformLinks {
        // No Samsung or LG app.
        slug: "criterion_channel",
        name: "The Criterion Channel",
        id_markers: &["criterionchannel.com/videos/", "criterionchannel.com/", "criterion://videos/"],
        web: "https://www.criterionchannel.com/videos/{id}",
        search: "https://www.criterionchannel.com/search?q={query}",
        cells: [
            App("criterion://videos/{id}"),
            App("intent://www.criterionchannel.com/videos/{id}#Intent;scheme=https;package=com.criterionchannel;end"),
            Web,
            App("criterion://videos/{id}"),
            App("intent://www.criterionchannel.com/videos/{id}#Intent;scheme=https;package=com.criterionchannel;end"),
            App("roku-ecp://launch/209542?contentId={id}&mediaType=movie"),
            Web,
            Web,
            App("intent://www.criterionchannel.com/videos/{id}#Intent;scheme=https;package=com.criterionchannel;end"),
            App("cast://A7F3E8C1?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "plex",
        name: "Plex",
        id_markers: &["watch.plex.tv/movie/", "app.plex.tv/desktop#!/provider/tv.plex.provider.vod/details?key=", "plex://movie/"],
        web: "https://watch.plex.tv/movie/{id}",
        search: "https://watch.plex.tv/search?q={query}",
        cells: [
            App("plex://movie/{id}"),
            App("intent://watch.plex.tv/movie/{id}#Intent;scheme=plex;package=com.plexapp.android;end"),
            Web,
            App("plex://movie/{id}"),
            App("intent://watch.plex.tv/movie/{id}#Intent;scheme=plex;package=com.plexapp.android;end"),
            App("roku-ecp://launch/13535?contentId={id}&mediaType=movie"),
            App("tizen-app://3201512006963?contentId={id}"),
            App("webos-app://cdp-30?contentTarget={id}"),
            App("intent://watch.plex.tv/movie/{id}#Intent;scheme=plex;package=com.plexapp.android;end"),
            App("cast://9AC194DC?contentId={id}"),
        ],
    },
    PlatformLinks {
        // Google TV store purchases: apps on Android and Google TV only.
        slug: "google_play",
        name: "Google TV",
        id_markers: &["play.google.com/store/movies/details?id=", "tv.google.com/movie/", "id="],
        web: "https://play.google.com/store/movies/details?id={id}",
        search: "https://play.google.com/store/search?c=movies&q={query}",
        cells: [
            Web,
            App("intent://play.google.com/store/movies/details?id={id}#Intent;scheme=https;package=com.google.android.videos;end"),
            Web,
            Web,
            App("intent://play.google.com/store/movies/details?id={id}#Intent;scheme=https;package=com.google.android.videos;end"),
            Web,
            Web,
            Web,
            Web,
            App("cast://E8C28D3C?contentId={id}"),
        ],
    },
    PlatformLinks {
        slug: "vudu",
        name: "Fandango at Home",
        id_markers: &["vudu.com/content/movies/details/", "athome.fandango.com/content/movies/details/", "vudu://details/"],
        web: "https://athome.fandango.com/content/movies/details/{id}",
        search: "https://athome.fandango.com/content/movies/search?searchString={query}",
        cells: [
            App("vudu://details/{id}"),
            App("intent://athome.fandango.com/content/movies/details/{id}#Intent;scheme=https;package=air.com.vudu.air.DownloaderTablet;end"),
            Web,
            App("vudu://details/{id}"),
            App("intent://athome.fandango.com/content/movies/details/{id}#Intent;scheme=https;package=com.vudu.android.app;end"),
            App("roku-ecp://launch/13842?contentId={id}&mediaType=movie"),
            App("tizen-app://3201601007490?contentId={id}"),
            App("webos-app://vudu?contentTarget={id}"),
            App("intent://athome.fandango.com/content/movies/details/{id}#Intent;scheme=https;package=com.vudu.android.app;end"),
            App("cast://6B8FD8E2?contentId={id}"),
        ],
    },
];

/// The row of a platform slug.
pub fn platform(slug: &str) -> Option<&'static PlatformLinks> {
    TABLE.iter().find(|p| p.slug == slug)
}

/// A platform's display name (the slug, when it is not in the table).
pub fn display_name(slug: &str) -> String {
    platform(slug).map_or_else(|| slug.replace('_', " "), |p| p.name.to_string())
}

/// What to open, and the browser link to fall back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepLink {
    pub deep_link: String,
    pub web_fallback: String,
    /// Whether `deep_link` opens a native app (false: it is the web player).
    pub native: bool,
}

/// The link for `platform` on `device`, from the links a provider sent with the offer.
///
/// 1. The platform is in the table and its title id is in one of the offer's links: the cell.
/// 2. Otherwise the provider's own links: its app link on a device with apps (not a browser),
///    its web link as the fallback (or the platform's search page for `title` when it sent none).
pub fn link(
    platform_slug: &str,
    device: DeviceType,
    offer_deep_link: &str,
    offer_web_url: &str,
    title: &str,
) -> DeepLink {
    let row = platform(platform_slug);
    if let Some(row) = row {
        let id = [offer_web_url, offer_deep_link]
            .iter()
            .find_map(|l| extract_id(l, row.id_markers));
        if let Some(id) = id {
            let web = row.web.replace("{id}", &id);
            return match row.cells[device.index()] {
                Cell::App(t) => DeepLink {
                    deep_link: t.replace("{id}", &id),
                    web_fallback: web,
                    native: true,
                },
                Cell::Web => DeepLink {
                    deep_link: web.clone(),
                    web_fallback: web,
                    native: false,
                },
            };
        }
    }
    let web_fallback = if is_http(offer_web_url) {
        offer_web_url.to_string()
    } else if is_http(offer_deep_link) {
        offer_deep_link.to_string()
    } else if let Some(row) = row {
        row.search.replace("{query}", &encode(title))
    } else {
        format!("https://www.justwatch.com/us/search?q={}", encode(title))
    };
    let has_app = row.is_none_or(|r| matches!(r.cells[device.index()], Cell::App(_)));
    let app_link = !offer_deep_link.is_empty() && !is_http(offer_deep_link);
    if device != DeviceType::Web && has_app && app_link {
        DeepLink {
            deep_link: offer_deep_link.to_string(),
            web_fallback,
            native: true,
        }
    } else {
        DeepLink {
            deep_link: web_fallback.clone(),
            web_fallback,
            native: false,
        }
    }
}

fn is_http(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The id right after the first marker found: up to `/`, `?`, `#` or `&`, URL-safe characters only.
fn extract_id(link: &str, markers: &[&str]) -> Option<String> {
    markers.iter().find_map(|m| {
        let at = link.find(m)? + m.len();
        let id: String = link[at..]
            .chars()
            .take_while(|c| !matches!(c, '/' | '?' | '#' | '&'))
            .collect();
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~:%".contains(c));
        ok.then_some(id)
    })
}

/// Percent-encodes a search query.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_fifteen_platforms_once_each() {
        assert!(TABLE.len() >= 15);
        let mut slugs: Vec<_> = TABLE.iter().map(|p| p.slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), TABLE.len(), "a platform listed twice");
        for required in [
            "netflix",
            "prime_video",
            "disney_plus",
            "max",
            "hulu",
            "apple_tv_plus",
            "paramount_plus",
            "peacock",
            "youtube",
            "tubi",
            "pluto_tv",
            "crunchyroll",
            "mubi",
            "criterion_channel",
            "plex",
        ] {
            assert!(platform(required).is_some(), "{required} missing");
        }
    }

    /// Every cell of the table: the link carries the id, app cells differ from the web fallback,
    /// and only cells marked `Web` equal it.
    #[test]
    fn every_cell_of_the_table() {
        let id = "abc123";
        let mut cells = 0;
        for row in TABLE {
            assert!(
                row.web.starts_with("https://") && row.web.contains("{id}"),
                "{}",
                row.slug
            );
            assert!(row.search.starts_with("https://") && row.search.contains("{query}"));
            let web = row.web.replace("{id}", id);
            assert_eq!(
                row.cells[DeviceType::Web.index()],
                Cell::Web,
                "{}: a browser opens the web player",
                row.slug
            );
            // A link the provider might send, built from the platform's own web template.
            let sent = web.clone();
            for device in DeviceType::ALL {
                cells += 1;
                let l = link(row.slug, device, "", &sent, "Heat");
                assert_eq!(l.web_fallback, web, "{} × {}", row.slug, device.as_str());
                assert!(
                    l.deep_link.contains(id),
                    "{} × {}",
                    row.slug,
                    device.as_str()
                );
                match row.cells[device.index()] {
                    Cell::App(t) => {
                        assert!(t.contains("{id}"), "{} × {}", row.slug, device.as_str());
                        assert_ne!(
                            l.deep_link,
                            web,
                            "{} × {}: an app cell equal to the web",
                            row.slug,
                            device.as_str()
                        );
                        assert!(
                            !is_http(&l.deep_link) || t.starts_with("intent:"),
                            "{} × {}",
                            row.slug,
                            device.as_str()
                        );
                        assert!(l.native);
                    }
                    Cell::Web => {
                        assert_eq!(l.deep_link, web);
                        assert!(!l.native);
                    }
                }
            }
        }
        assert_eq!(cells, TABLE.len() * DeviceType::ALL.len());
    }

    #[test]
    fn ids_come_from_the_provider_links_as_sent() {
        let l = link(
            "netflix",
            DeviceType::Ios,
            "nflx://www.netflix.com/title/80100172",
            "",
            "Stranger Things",
        );
        assert_eq!(l.deep_link, "nflx://www.netflix.com/title/80100172");
        assert_eq!(l.web_fallback, "https://www.netflix.com/title/80100172");
        let l = link(
            "prime_video",
            DeviceType::Roku,
            "aiv://detail/B00FYV5LAM",
            "https://www.primevideo.com/detail/B00FYV5LAM?ref=x",
            "",
        );
        assert_eq!(
            l.deep_link,
            "roku-ecp://launch/13?contentId=B00FYV5LAM&mediaType=movie"
        );
        let l = link(
            "youtube",
            DeviceType::Androidtv,
            "",
            "https://youtu.be/dQw4w9WgXcQ",
            "",
        );
        assert!(l.deep_link.contains("v=dQw4w9WgXcQ") && l.deep_link.contains("youtube.tv"));
    }

    #[test]
    fn without_an_id_the_provider_links_or_a_search_are_used() {
        // An app link the table cannot read: used on devices with apps, never in a browser.
        let l = link(
            "netflix",
            DeviceType::Android,
            "nflx://odd/path",
            "https://netflix.com/browse",
            "Heat",
        );
        assert_eq!(
            (l.deep_link.as_str(), l.web_fallback.as_str()),
            ("nflx://odd/path", "https://netflix.com/browse")
        );
        let l = link(
            "netflix",
            DeviceType::Web,
            "nflx://odd/path",
            "https://netflix.com/browse",
            "Heat",
        );
        assert_eq!(l.deep_link, "https://netflix.com/browse");
        let l = link("mubi", DeviceType::Tizen, "", "", "In the Mood for Love");
        assert_eq!(
            l.web_fallback,
            "https://mubi.com/search/films?query=In+the+Mood+for+Love"
        );
        assert_eq!(l.deep_link, l.web_fallback);
    }

    #[test]
    fn an_unknown_platform_gets_its_web_link_never_a_failure() {
        for device in DeviceType::ALL {
            let l = link(
                "kanopy",
                device,
                "",
                "https://www.kanopy.com/product/123",
                "Heat",
            );
            assert_eq!(l.deep_link, "https://www.kanopy.com/product/123");
            assert!(!l.native);
        }
        let l = link(
            "kanopy",
            DeviceType::Ios,
            "kanopy://product/123",
            "https://www.kanopy.com/product/123",
            "",
        );
        assert_eq!(l.deep_link, "kanopy://product/123");
        let l = link("nowhere", DeviceType::Roku, "", "", "Heat & Dust");
        assert!(l.deep_link.starts_with("https://") && l.deep_link.contains("Heat+%26+Dust"));
        assert_eq!(display_name("kanopy_plus"), "kanopy plus");
        assert_eq!(display_name("max"), "Max");
    }
}
