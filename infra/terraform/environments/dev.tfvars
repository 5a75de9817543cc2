# Development: the same topology at the smallest sizes. Cloud SQL is ZONAL and Redis BASIC here to
# halve their cost; everything else (private IPs, TLS, IAM auth, CMEK, Workload Identity) is as in
# prod, so what works in dev works in prod.
#   terraform init -backend-config=environments/dev.gcs.tfbackend
#   terraform apply -var-file=environments/dev.tfvars
project_id  = "media-gateway-dev"
region      = "us-central1"
environment = "dev"

gke_release_channel = "REGULAR"
# Public endpoint, but only for the networks listed (add your office/VPN egress CIDR).
gke_private_endpoint       = false
master_authorized_networks = []

node_pools = {
  general = {
    machine_type = "n2-standard-4"
    min_nodes    = 1
    max_nodes    = 3
    disk_size_gb = 50
  }
  search-optimized = {
    machine_type = "n2-highmem-2"
    min_nodes    = 1
    max_nodes    = 1
    disk_size_gb = 50
    spot         = true
    taint        = true
  }
  recommendation = {
    machine_type = "n2-standard-2"
    min_nodes    = 1
    max_nodes    = 1
    disk_size_gb = 50
    spot         = true
    taint        = true
  }
}

deletion_protection = false

sql_tier                     = "db-custom-2-8192"
sql_availability_type        = "ZONAL"
sql_disk_size_gb             = 50
sql_disk_autoresize_limit_gb = 200
sql_backup_retained_count    = 7
sql_log_retention_days       = 3
sql_max_connections          = 200

redis_tier           = "BASIC"
redis_memory_size_gb = 1
redis_replica_count  = 0

kafka_vcpu_count     = 3
kafka_memory_gib     = 3
kafka_partitions     = 3
kafka_dlq_partitions = 3

backups_retention_days = 30
