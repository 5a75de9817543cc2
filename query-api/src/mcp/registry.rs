//! The MCP tools with what they need: one list read by `tools/list` (through the rmcp router, checked
//! equal in tests), the per-tool scope and consent checks, the ARW manifest and `GET /mcp/tools`.

use mediagw_domain::auth::Scope;

#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    pub name: &'static str,
    /// The ARW manifest action it belongs to.
    pub action: &'static str,
    pub scopes: &'static [Scope],
    /// Acts for the person (writes, starts playback): needs their remembered consent.
    pub requires_user_consent: bool,
}

use Scope::*;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "semantic_search",
        action: "search",
        scopes: &[ReadContent],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "get_content_details",
        action: "search",
        scopes: &[ReadContent],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "get_availability",
        action: "search",
        scopes: &[ReadContent],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "what_is_leaving",
        action: "search",
        scopes: &[ReadContent],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "new_arrivals",
        action: "search",
        scopes: &[ReadContent],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "get_trending",
        action: "search",
        scopes: &[ReadContent],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "find_similar",
        action: "recommend",
        scopes: &[ReadContent, ReadPreferences],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "get_recommendations",
        action: "recommend",
        scopes: &[ReadContent, ReadPreferences],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "get_watchlist",
        action: "watchlist",
        scopes: &[ReadPreferences],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "add_to_watchlist",
        action: "watchlist_edit",
        scopes: &[WritePreferences],
        requires_user_consent: true,
    },
    ToolSpec {
        name: "remove_from_watchlist",
        action: "watchlist_edit",
        scopes: &[WritePreferences],
        requires_user_consent: true,
    },
    ToolSpec {
        name: "list_devices",
        action: "devices",
        scopes: &[ReadDevices],
        requires_user_consent: false,
    },
    ToolSpec {
        name: "initiate_playback",
        action: "playback",
        scopes: &[WritePlayback, ReadDevices],
        requires_user_consent: true,
    },
    ToolSpec {
        name: "control_playback",
        action: "playback",
        scopes: &[WritePlayback],
        requires_user_consent: true,
    },
];

pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Manifest actions: id, display name (the seed's three first).
pub const ACTIONS: &[(&str, &str)] = &[
    ("search", "Search Content"),
    ("recommend", "Get Recommendations"),
    ("playback", "Control Playback"),
    ("watchlist", "Read Watchlist"),
    ("watchlist_edit", "Edit Watchlist"),
    ("devices", "List Devices"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_router_and_the_registry_name_the_same_tools() {
        let served: Vec<String> = crate::mcp::MediaGatewayMcp::tools()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        let mut registered: Vec<String> = TOOLS.iter().map(|t| t.name.to_string()).collect();
        registered.sort();
        assert_eq!(served, registered);
        assert!(TOOLS.len() >= 12);
        for t in TOOLS {
            assert!(!t.scopes.is_empty(), "{} has no scope", t.name);
            assert!(ACTIONS.iter().any(|(id, _)| *id == t.action), "{}", t.name);
        }
        for acting in [
            "initiate_playback",
            "control_playback",
            "add_to_watchlist",
            "remove_from_watchlist",
        ] {
            assert!(spec(acting).unwrap().requires_user_consent, "{acting}");
        }
    }

    #[test]
    fn every_tool_has_an_object_schema_with_its_required_arguments() {
        for t in crate::mcp::MediaGatewayMcp::tools() {
            assert_eq!(
                t.input_schema.get("type").and_then(|v| v.as_str()),
                Some("object"),
                "{}",
                t.name
            );
        }
        let search = crate::mcp::MediaGatewayMcp::tools()
            .into_iter()
            .find(|t| t.name == "semantic_search")
            .unwrap();
        assert_eq!(
            search.input_schema["required"],
            serde_json::json!(["query"])
        );
    }
}
