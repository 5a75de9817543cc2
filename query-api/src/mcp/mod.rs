//! MCP server (seed §8) for AI agents: the same product through the Model Context Protocol, built on
//! `rmcp`. Every tool calls the public REST API with the agent's own access token ([`api`]), so an
//! agent can never do more than the token allows, and the gateway's rate tiers apply per client.
//!
//! - [`registry`]: the tool list with scopes and consent flags: one source for `tools/list`, the ARW
//!   manifest and `GET /mcp/tools`.
//! - [`server`]: the rmcp `ServerHandler` (tools, resources, prompts).
//! - [`http`]: Streamable HTTP at `/mcp`, the JSON listings, `/.well-known/arw-manifest.json` and the
//!   protected-resource metadata. `mediagw mcp` serves the same server over stdio.

pub mod api;
pub mod http;
pub mod registry;
pub mod server;

pub use server::{Agent, MediaGatewayMcp};
