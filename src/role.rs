//! The roles `mediagw serve --role` runs: every role in one process, or each scaled out alone.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A projector role: which read model it keeps (`projector:<name>`; `projector.fetch_wait_ms`
/// is keyed by the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectorName {
    Catalog,
    Search,
    SearchActivity,
    Sync,
    UserProfiles,
    Playback,
}

impl ProjectorName {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectorName::Catalog => "catalog",
            ProjectorName::Search => "search",
            ProjectorName::SearchActivity => "search-activity",
            ProjectorName::Sync => "sync",
            ProjectorName::UserProfiles => "user-profiles",
            ProjectorName::Playback => "playback",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Api,
    Registry,
    Relay,
    Projector(ProjectorName),
    Connectors,
    /// The MCP endpoint (`/mcp`) alone, for agents; `api` serves it too.
    Mcp,
}

impl Role {
    /// Every role, in the order `--role all` and the error listing them name them.
    pub const ALL: [Role; 11] = [
        Role::Api,
        Role::Registry,
        Role::Relay,
        Role::Projector(ProjectorName::Catalog),
        Role::Projector(ProjectorName::Search),
        Role::Projector(ProjectorName::SearchActivity),
        Role::Projector(ProjectorName::Sync),
        Role::Projector(ProjectorName::UserProfiles),
        Role::Projector(ProjectorName::Playback),
        Role::Connectors,
        Role::Mcp,
    ];
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Api => f.write_str("api"),
            Role::Registry => f.write_str("registry"),
            Role::Relay => f.write_str("relay"),
            Role::Projector(p) => write!(f, "projector:{}", p.as_str()),
            Role::Connectors => f.write_str("connectors"),
            Role::Mcp => f.write_str("mcp"),
        }
    }
}

impl FromStr for Role {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.to_string() == s)
            .ok_or_else(|| {
                let known: Vec<String> = Role::ALL.iter().map(Role::to_string).collect();
                anyhow::anyhow!("unknown role `{s}` (known: all, {})", known.join(", "))
            })
    }
}

/// Parses `all` or a comma-separated role list.
pub fn parse_roles(spec: &str) -> anyhow::Result<BTreeSet<Role>> {
    if spec == "all" {
        return Ok(Role::ALL.into_iter().collect());
    }
    // Checked in name order, so a list with several unknown roles names the same one each time.
    let names: BTreeSet<&str> = spec.split(',').map(str::trim).collect();
    names.into_iter().map(str::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_as_written() {
        let names: Vec<String> = Role::ALL.iter().map(Role::to_string).collect();
        assert_eq!(
            names,
            [
                "api",
                "registry",
                "relay",
                "projector:catalog",
                "projector:search",
                "projector:search-activity",
                "projector:sync",
                "projector:user-profiles",
                "projector:playback",
                "connectors",
                "mcp"
            ]
        );
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
    }

    #[test]
    fn all_or_a_list() {
        assert_eq!(parse_roles("all").unwrap().len(), 11);
        assert_eq!(
            parse_roles("relay, projector:search-activity,relay").unwrap(),
            BTreeSet::from([Role::Relay, Role::Projector(ProjectorName::SearchActivity)])
        );
    }

    #[test]
    fn unknown_roles_are_named_with_the_known_ones() {
        assert_eq!(
            parse_roles("api,projector:trending,bogus")
                .unwrap_err()
                .to_string(),
            "unknown role `bogus` (known: all, api, registry, relay, projector:catalog, \
             projector:search, projector:search-activity, projector:sync, projector:user-profiles, \
             projector:playback, connectors, mcp)"
        );
        assert!(parse_roles("all,api").is_err());
        assert!(parse_roles("").is_err());
    }
}
