# Inputs. Every environment sets these in environments/<env>.tfvars; defaults are the production
# shape from the architecture seed (Deployment Architecture → GCP Infrastructure).

# ---------------------------------------------------------------------------------------------
# Project and naming
# ---------------------------------------------------------------------------------------------

variable "project_id" {
  description = "GCP project that holds one environment (one project per environment)."
  type        = string
}

variable "region" {
  description = "Region for every regional resource (GKE, Cloud SQL, Memorystore, Managed Kafka, KMS, Artifact Registry, buckets)."
  type        = string
  default     = "us-central1"
}

variable "environment" {
  description = "Environment name; goes into resource names and labels."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "name" {
  description = "Base name of the product's resources."
  type        = string
  default     = "media-gateway"
}

variable "labels" {
  description = "Extra labels on every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "enable_apis" {
  description = "Enable the project's service APIs from Terraform (turn off where an org pipeline does it)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "subnet_cidr" {
  description = "Primary range of the GKE subnet (nodes; Managed Kafka's Private Service Connect endpoints)."
  type        = string
  default     = "10.10.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for GKE pods."
  type        = string
  default     = "10.16.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range for GKE services."
  type        = string
  default     = "10.20.0.0/20"
}

variable "master_cidr" {
  description = "The /28 of the private GKE control plane."
  type        = string
  default     = "172.16.0.0/28"
}

variable "private_service_access_prefix_length" {
  description = "Size of the range reserved for private services access (Cloud SQL, Memorystore)."
  type        = number
  default     = 20
}

variable "health_check_ports" {
  description = "Pod ports the Google load balancer health checkers may reach (container-native NEGs): public HTTP 8080, internal health/metrics 8082."
  type        = list(string)
  default     = ["8080", "8082"]
}

# ---------------------------------------------------------------------------------------------
# GKE
# ---------------------------------------------------------------------------------------------

variable "gke_release_channel" {
  description = "GKE release channel: RAPID, REGULAR or STABLE."
  type        = string
  default     = "STABLE"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.gke_release_channel)
    error_message = "gke_release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "gke_private_endpoint" {
  description = "Control plane reachable on its private endpoint only (operators come through a bastion, IAP or Connect Gateway)."
  type        = bool
  default     = true
}

variable "master_authorized_networks" {
  description = "CIDRs allowed to reach the control plane (CI runners, operators' networks). Never 0.0.0.0/0."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []

  validation {
    condition     = alltrue([for n in var.master_authorized_networks : n.cidr_block != "0.0.0.0/0"])
    error_message = "0.0.0.0/0 is not an authorized network."
  }
}

variable "node_pools" {
  description = <<-EOT
    GKE node pools (seed: general n2-standard-4 3-10, search-optimized n2-highmem-8 2-4,
    recommendation n2-standard-8 2-4). min_nodes/max_nodes are totals across the region's zones.
    A taint keeps other workloads off a dedicated pool; its workloads tolerate it and select it by
    the label `mediagw.io/pool=<key>`.
  EOT
  type = map(object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
    disk_size_gb = optional(number, 100)
    disk_type    = optional(string, "pd-balanced")
    spot         = optional(bool, false)
    taint        = optional(bool, false)
  }))
  default = {
    general = {
      machine_type = "n2-standard-4"
      min_nodes    = 3
      max_nodes    = 10
    }
    search-optimized = {
      machine_type = "n2-highmem-8"
      min_nodes    = 2
      max_nodes    = 4
      taint        = true
    }
    recommendation = {
      machine_type = "n2-standard-8"
      min_nodes    = 2
      max_nodes    = 4
      taint        = true
    }
  }
}

variable "k8s_namespace" {
  description = "Namespace of the mediagw workloads (Kubernetes service accounts are bound there)."
  type        = string
  default     = "media-gateway"
}

variable "ksa_prefix" {
  description = "Kubernetes service account name = prefix + role (e.g. mediagw-projector-catalog)."
  type        = string
  default     = "mediagw-"
}

variable "external_secrets_ksa" {
  description = <<-EOT
    "<namespace>/<name>" of the External Secrets Operator's Kubernetes service account, which syncs
    every Secret Manager secret into the Secret mediagw-secrets (k8s/base/external-secret.yaml).
    null when pods read secrets with their own identity (Secret Manager CSI driver) instead.
  EOT
  type        = string
  default     = "external-secrets/external-secrets"
  nullable    = true
}

variable "deletion_protection" {
  description = "Deletion protection on the cluster, the database and the buckets' contents."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Cloud SQL (PostgreSQL: the event store and every read model)
# ---------------------------------------------------------------------------------------------

variable "sql_tier" {
  description = "Cloud SQL machine tier (seed: db-custom-4-16384, 4 vCPU / 16 GB)."
  type        = string
  default     = "db-custom-4-16384"
}

variable "sql_availability_type" {
  description = "REGIONAL (HA with a standby in a second zone) or ZONAL."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.sql_availability_type)
    error_message = "sql_availability_type must be REGIONAL or ZONAL."
  }
}

variable "sql_disk_size_gb" {
  description = "Initial SSD size (seed: 500 GB); grows automatically up to sql_disk_autoresize_limit_gb."
  type        = number
  default     = 500
}

variable "sql_disk_autoresize_limit_gb" {
  description = "Upper bound for automatic storage growth (0 = no limit)."
  type        = number
  default     = 2000
}

variable "sql_backup_retained_count" {
  description = "Automated daily backups kept."
  type        = number
  default     = 30
}

variable "sql_log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7 on Enterprise edition)."
  type        = number
  default     = 7
}

variable "sql_max_connections" {
  description = "PostgreSQL max_connections (each mediagw process pools database.max_connections = 16 by default)."
  type        = number
  default     = 400
}

variable "database_name" {
  description = "The application database."
  type        = string
  default     = "mediagw"
}

# ---------------------------------------------------------------------------------------------
# Memorystore for Redis (gateway rate limits, search/recommendation caches, sync fan-out)
# ---------------------------------------------------------------------------------------------

variable "redis_tier" {
  description = "STANDARD_HA (primary + replica, automatic failover) or BASIC."
  type        = string
  default     = "STANDARD_HA"

  validation {
    condition     = contains(["STANDARD_HA", "BASIC"], var.redis_tier)
    error_message = "redis_tier must be STANDARD_HA or BASIC."
  }
}

variable "redis_memory_size_gb" {
  description = "Memorystore capacity (seed: 10 GB)."
  type        = number
  default     = 10
}

variable "redis_version" {
  description = "Memorystore Redis version."
  type        = string
  default     = "REDIS_7_2"
}

variable "redis_replica_count" {
  description = "Read replicas of a STANDARD_HA instance (seed: 1). Ignored for BASIC."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------------------------------------
# Managed Service for Apache Kafka
# ---------------------------------------------------------------------------------------------

variable "kafka_vcpu_count" {
  description = "vCPUs of the Managed Kafka cluster (minimum 3)."
  type        = number
  default     = 6
}

variable "kafka_memory_gib" {
  description = "Memory of the Managed Kafka cluster, GiB (1-8 GiB per vCPU)."
  type        = number
  default     = 24
}

variable "kafka_partitions" {
  description = "Partitions of each domain topic. A projector's replicas must not exceed it (docs/operations.md)."
  type        = number
  default     = 12
}

variable "kafka_dlq_partitions" {
  description = "Partitions of each <topic>.dlq."
  type        = number
  default     = 3
}

variable "kafka_replication_factor" {
  description = "Replicas of each partition (Managed Kafka spreads them over three zones)."
  type        = number
  default     = 3
}

variable "kafka_topic_retention_ms" {
  description = <<-EOT
    retention.ms per topic. The domain topics keep everything (-1): `mediagw replay <projection>
    --from earliest` rebuilds read models from them. Topics not listed use -1.
  EOT
  type        = map(string)
  default = {
    "search.queries" = "2592000000" # 30 days: trending and search affinity only
  }
}

variable "kafka_dlq_retention_ms" {
  description = "retention.ms of the dead-letter topics (time to inspect and re-drive)."
  type        = string
  default     = "2592000000"
}

# ---------------------------------------------------------------------------------------------
# Secrets, keys, registry, buckets
# ---------------------------------------------------------------------------------------------

variable "aggregator_providers" {
  description = "Provider connectors with an API key secret each (MEDIAGW__CONNECTORS__<PROVIDER>__API_KEY)."
  type        = list(string)
  default     = ["tmdb", "watchmode", "streaming-availability", "youtube", "gracenote"]
}

variable "kms_rotation_period" {
  description = "Rotation period of the CMEK keys (at most 90 days)."
  type        = string
  default     = "7776000s"
}

variable "artifact_keep_tagged_versions" {
  description = "Most recent image versions kept by the Artifact Registry cleanup policy."
  type        = number
  default     = 30
}

variable "images_bucket_storage_class" {
  description = "Storage class of the images bucket (seed: STANDARD)."
  type        = string
  default     = "STANDARD"
}

variable "backups_bucket_storage_class" {
  description = "Storage class of the backups bucket (seed: NEARLINE)."
  type        = string
  default     = "NEARLINE"
}

variable "backups_retention_days" {
  description = "Objects in the backups bucket are deleted after this many days."
  type        = number
  default     = 365
}

variable "access_logs_retention_days" {
  description = "Bucket access logs are deleted after this many days."
  type        = number
  default     = 90
}
