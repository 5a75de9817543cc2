locals {
  # e.g. media-gateway-prod
  prefix = "${var.name}-${var.environment}"

  labels = merge(
    {
      app         = "media-gateway"
      environment = var.environment
      managed-by  = "terraform"
    },
    var.labels,
  )

  # One Google service account per `mediagw serve --role` (and the operator jobs), each bound to
  # the Kubernetes service account <ksa_prefix><role> in var.k8s_namespace. `secrets` are the
  # Secret Manager secrets (keys of local.secrets) the role may read.
  roles = {
    "api" = {
      description = "mediagw serve --role api: REST/gRPC/WebSocket/MCP, OAuth server, gateway"
      secrets     = ["database-url", "redis-url", "oauth-signing-key-encryption-key", "qdrant-api-key"]
    }
    "registry" = {
      description = "mediagw serve --role registry: the Confluent-compatible schema registry"
      secrets     = ["database-url"]
    }
    "relay" = {
      description = "mediagw serve --role relay: event_outbox -> Kafka"
      secrets     = ["database-url"]
    }
    "connectors" = {
      description = "mediagw serve --role connectors: provider (aggregator) jobs"
      secrets     = concat(["database-url", "redis-url"], [for p in var.aggregator_providers : "aggregator-api-key-${p}"])
    }
    "mcp" = {
      description = "MCP endpoint for agents (Streamable HTTP), served by the API binary"
      secrets     = ["database-url", "redis-url", "oauth-signing-key-encryption-key", "qdrant-api-key"]
    }
    "projector-catalog" = {
      description = "mediagw serve --role projector:catalog"
      secrets     = ["database-url", "redis-url"]
    }
    "projector-search" = {
      description = "mediagw serve --role projector:search (embeddings, search index)"
      secrets     = ["database-url", "redis-url", "qdrant-api-key"]
    }
    "projector-search-activity" = {
      description = "mediagw serve --role projector:search-activity (trending, affinity)"
      secrets     = ["database-url", "redis-url"]
    }
    "projector-sync" = {
      description = "mediagw serve --role projector:sync"
      secrets     = ["database-url", "redis-url"]
    }
    "projector-user-profiles" = {
      description = "mediagw serve --role projector:user-profiles (profiles, recommendation model job)"
      secrets     = ["database-url", "redis-url", "qdrant-api-key"]
    }
    "projector-playback" = {
      description = "mediagw serve --role projector:playback"
      secrets     = ["database-url", "redis-url"]
    }
    "migrate" = {
      description = "Operator jobs: mediagw migrate, replay, auth, ingest (owns the database schema)"
      secrets     = ["database-url", "redis-url", "qdrant-api-key"]
    }
  }

  # The event topics (README "Topics") and their dead-letter topics.
  topics     = ["content.ingested", "content.updated", "availability.changed", "search.queries", "sync.operations", "user.interaction", "playback.devices", "playback.sessions", "auth.audit"]
  dlq_topics = [for t in local.topics : "${t}.dlq"]

  # Secret Manager secrets: created empty; operators add versions (docs/operations.md, "Secrets").
  secrets = merge(
    {
      "database-url"                     = "MEDIAGW__DATABASE__URL (through the Cloud SQL Auth Proxy sidecar)"
      "redis-url"                        = "MEDIAGW__REDIS__URL (rediss://:<AUTH string>@<host>:6378/0)"
      "oauth-signing-key-encryption-key" = "Key that encrypts the OAuth RS256 signing keys at rest"
      "qdrant-api-key"                   = "MEDIAGW__SEARCH__QDRANT_API_KEY"
    },
    { for p in var.aggregator_providers : "aggregator-api-key-${p}" => "MEDIAGW__CONNECTORS__${upper(replace(p, "-", "_"))}__API_KEY" },
  )

  services = [
    "artifactregistry.googleapis.com",
    "cloudkms.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "containeranalysis.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "managedkafka.googleapis.com",
    "monitoring.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    "binaryauthorization.googleapis.com",
  ]
}

resource "google_project_service" "this" {
  for_each = var.enable_apis ? toset(local.services) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
