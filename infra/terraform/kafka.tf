# Google Managed Service for Apache Kafka: the event bus between the relay and the projectors.
# Reached from the GKE subnet through Private Service Connect endpoints; clients authenticate with
# their Workload Identity (SASL_SSL, docs/operations.md "Kafka client settings") and need
# roles/managedkafka.client (iam.tf). Encryption at rest: Google-managed.
#
# Topics are created here, not by `mediagw migrate`, so partition counts and retention are reviewed
# changes. The domain topics keep everything (retention.ms = -1): `mediagw replay <projection>
# --from earliest` rebuilds a read model from them, and a topic that forgot its oldest events would
# rebuild a wrong one. The event store in PostgreSQL remains the source of truth.

resource "google_managed_kafka_cluster" "this" {
  cluster_id = "${local.prefix}-kafka"
  location   = var.region

  capacity_config {
    vcpu_count   = tostring(var.kafka_vcpu_count)
    memory_bytes = tostring(var.kafka_memory_gib * 1024 * 1024 * 1024)
  }

  gcp_config {
    access_config {
      network_configs {
        subnet = "projects/${data.google_project.this.number}/regions/${var.region}/subnetworks/${google_compute_subnetwork.gke.name}"
      }
    }
  }

  rebalance_config {
    mode = "AUTO_REBALANCE_ON_SCALE_UP"
  }

  labels = local.labels

  depends_on = [google_project_service.this]
}

resource "google_managed_kafka_topic" "events" {
  for_each = toset(local.topics)

  topic_id           = each.value
  cluster            = google_managed_kafka_cluster.this.cluster_id
  location           = var.region
  partition_count    = var.kafka_partitions
  replication_factor = var.kafka_replication_factor

  configs = {
    "cleanup.policy"      = "delete"
    "retention.ms"        = lookup(var.kafka_topic_retention_ms, each.value, "-1")
    "min.insync.replicas" = "2"
  }
}

resource "google_managed_kafka_topic" "dlq" {
  for_each = toset(local.dlq_topics)

  topic_id           = each.value
  cluster            = google_managed_kafka_cluster.this.cluster_id
  location           = var.region
  partition_count    = var.kafka_dlq_partitions
  replication_factor = var.kafka_replication_factor

  configs = {
    "cleanup.policy"      = "delete"
    "retention.ms"        = var.kafka_dlq_retention_ms
    "min.insync.replicas" = "2"
  }
}
