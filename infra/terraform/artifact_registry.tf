# Docker repository for the mediagw image (one image, every role). CMEK-encrypted; a cleanup policy
# keeps the most recent versions and drops untagged images after a week.

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = "${var.name}-images"
  description   = "mediagw container images (${var.environment})"
  format        = "DOCKER"
  kms_key_name  = google_kms_crypto_key.this["artifact-registry"].id
  labels        = local.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.artifact_keep_tagged_versions
    }
  }

  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "604800s"
    }
  }

  depends_on = [
    google_project_service.this,
    google_kms_crypto_key_iam_member.service_agents,
  ]
}

# Nodes pull images; nobody else reads the repository anonymously.
resource "google_artifact_registry_repository_iam_member" "nodes_read" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.gke_nodes.email}"
}
