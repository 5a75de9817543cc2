# What the Kubernetes overlay (k8s/) needs. None of these is a secret: passwords and keys live only
# in Secret Manager versions that operators add (Redis's AUTH string is deliberately not an output).

output "project_id" {
  value = var.project_id
}

output "region" {
  value = var.region
}

output "environment" {
  value = var.environment
}

output "gke_cluster_name" {
  description = "gcloud container clusters get-credentials <name> --region <region> [--internal-ip]"
  value       = google_container_cluster.this.name
}

output "gke_location" {
  value = google_container_cluster.this.location
}

output "gke_private_endpoint" {
  description = "Private IP of the control plane."
  value       = google_container_cluster.this.private_cluster_config[0].private_endpoint
}

output "workload_identity_pool" {
  value = "${var.project_id}.svc.id.goog"
}

output "k8s_namespace" {
  value = var.k8s_namespace
}

output "workload_identities" {
  description = "Per role: the Kubernetes service account to create and the Google service account to annotate it with (iam.gke.io/gcp-service-account)."
  value = {
    for role_key, sa in google_service_account.role : role_key => {
      kubernetes_service_account = "${var.ksa_prefix}${role_key}"
      google_service_account     = sa.email
      database_user              = google_sql_user.role[role_key].name
      secrets                    = local.roles[role_key].secrets
    }
  }
}

output "external_secrets_service_account" {
  description = "Annotate the External Secrets Operator's KSA with it (iam.gke.io/gcp-service-account); null when not used."
  value       = var.external_secrets_ksa == null ? null : google_service_account.external_secrets[0].email
}

output "image_repository" {
  description = "Push/pull prefix for the mediagw image: <this>/mediagw:<tag>."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "cloudsql_instance_connection_name" {
  description = "For the Cloud SQL Auth Proxy sidecar: --private-ip --auto-iam-authn <this>."
  value       = google_sql_database_instance.this.connection_name
}

output "cloudsql_private_ip" {
  value = google_sql_database_instance.this.private_ip_address
}

output "database_name" {
  value = google_sql_database.mediagw.name
}

output "redis_host" {
  value = google_redis_instance.this.host
}

output "redis_port" {
  description = "TLS port (transit encryption): 6378."
  value       = google_redis_instance.this.port
}

output "redis_read_endpoint" {
  value = google_redis_instance.this.read_endpoint
}

output "redis_server_ca_certs" {
  description = "Public CA certificates that sign the Memorystore TLS endpoint (mount as a ConfigMap; not secret)."
  value       = [for c in google_redis_instance.this.server_ca_certs : c.cert]
}

output "kafka_cluster" {
  value = google_managed_kafka_cluster.this.name
}

output "kafka_bootstrap_servers" {
  description = "MEDIAGW__KAFKA__BROKERS (SASL_SSL)."
  value       = "bootstrap.${google_managed_kafka_cluster.this.cluster_id}.${var.region}.managedkafka.${var.project_id}.cloud.goog:9092"
}

output "kafka_topics" {
  value = concat(local.topics, local.dlq_topics)
}

output "kafka_partitions" {
  description = "Partitions per domain topic: the ceiling for any projector's replica count."
  value       = var.kafka_partitions
}

output "secrets" {
  description = "Secret Manager secret → resource name (add versions with gcloud; mount with the Secret Manager CSI driver or External Secrets)."
  value       = { for k, s in google_secret_manager_secret.this : k => s.name }
}

output "buckets" {
  value = {
    images      = google_storage_bucket.images.name
    backups     = google_storage_bucket.backups.name
    access_logs = google_storage_bucket.access_logs.name
  }
}
