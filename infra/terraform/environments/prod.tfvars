# Production: the seed's shape for ~100k users (docs/operations.md, "Capacity").
#   terraform init -backend-config=environments/prod.gcs.tfbackend
#   terraform apply -var-file=environments/prod.tfvars
project_id  = "media-gateway-prod"
region      = "us-central1"
environment = "prod"

gke_release_channel  = "STABLE"
gke_private_endpoint = true
# Internal ranges (beyond the cluster's own subnet) that may reach the private control plane, e.g.
# a bastion's or the CI runners' subnet: { cidr_block = "10.30.0.0/24", display_name = "bastion" }.
master_authorized_networks = []

node_pools = {
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

deletion_protection = true

sql_tier                     = "db-custom-4-16384"
sql_availability_type        = "REGIONAL"
sql_disk_size_gb             = 500
sql_disk_autoresize_limit_gb = 2000
sql_backup_retained_count    = 30
sql_log_retention_days       = 7
sql_max_connections          = 400

redis_tier           = "STANDARD_HA"
redis_memory_size_gb = 10
redis_replica_count  = 1

kafka_vcpu_count     = 6
kafka_memory_gib     = 24
kafka_partitions     = 12
kafka_dlq_partitions = 3

backups_retention_days = 365
