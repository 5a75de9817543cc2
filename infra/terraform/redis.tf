# Memorystore for Redis: rate-limit buckets and deny list (gateway), search/recommendation caches,
# sync fan-out (pub/sub). STANDARD_HA with a read replica, AUTH, TLS in transit, private services
# access only, RDB snapshots (the caches are rebuildable; the snapshots only shorten a cold start).
#
# State note: the provider records the AUTH string (`auth_string`, sensitive) in the Terraform
# state; there is no way to enable AUTH on google_redis_instance without it. The state bucket is
# therefore CMEK-encrypted and readable only by the deploy identity (README.md, "State"). The
# string reaches the pods through the `redis-url` secret, which an operator fills
# (docs/operations.md, "Secrets") — Terraform never writes secret versions.

resource "google_redis_instance" "this" {
  name           = "${local.prefix}-redis"
  display_name   = "media-gateway cache (${var.environment})"
  region         = var.region
  tier           = var.redis_tier
  memory_size_gb = var.redis_memory_size_gb
  redis_version  = var.redis_version

  authorized_network = google_compute_network.vpc.id
  connect_mode       = "PRIVATE_SERVICE_ACCESS"

  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  replica_count      = var.redis_tier == "STANDARD_HA" ? var.redis_replica_count : null
  read_replicas_mode = var.redis_tier == "STANDARD_HA" ? (var.redis_replica_count > 0 ? "READ_REPLICAS_ENABLED" : "READ_REPLICAS_DISABLED") : null

  # Seed caching strategy: allkeys-lru. Size memory so nothing is evicted in practice: the gateway's
  # deny list of revoked access tokens lives here too (an evicted entry re-admits a revoked token
  # until it expires, at most auth.access_ttl_s = 1 h).
  redis_configs = {
    "maxmemory-policy" = "allkeys-lru"
  }

  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = "TWELVE_HOURS"
  }

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 4
        minutes = 0
      }
    }
  }

  labels = local.labels

  depends_on = [google_service_networking_connection.private_services]
}
