# Customer-managed encryption keys where they cost next to nothing (a key version is a few cents a
# month): Cloud SQL, Secret Manager, Artifact Registry and GKE application-layer secrets (etcd).
# Memorystore, Managed Kafka and the buckets use Google-managed encryption.
# Key rings and keys cannot be deleted in GCP; `prevent_destroy` keeps Terraform from trying.

resource "google_kms_key_ring" "this" {
  name     = "${local.prefix}-keyring"
  location = var.region

  depends_on = [google_project_service.this]
}

resource "google_kms_crypto_key" "this" {
  for_each = toset(["cloudsql", "secrets", "artifact-registry", "gke-secrets"])

  name            = each.value
  key_ring        = google_kms_key_ring.this.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "SOFTWARE"
  }

  lifecycle {
    prevent_destroy = true
  }
}

# Service agents that encrypt with these keys on the product's behalf.
resource "google_project_service_identity" "sqladmin" {
  provider = google-beta
  project  = var.project_id
  service  = "sqladmin.googleapis.com"
}

resource "google_project_service_identity" "secretmanager" {
  provider = google-beta
  project  = var.project_id
  service  = "secretmanager.googleapis.com"
}

resource "google_project_service_identity" "artifactregistry" {
  provider = google-beta
  project  = var.project_id
  service  = "artifactregistry.googleapis.com"
}

locals {
  kms_users = {
    cloudsql          = "serviceAccount:${google_project_service_identity.sqladmin.email}"
    secrets           = "serviceAccount:${google_project_service_identity.secretmanager.email}"
    artifact-registry = "serviceAccount:${google_project_service_identity.artifactregistry.email}"
    gke-secrets       = "serviceAccount:service-${data.google_project.this.number}@container-engine-robot.iam.gserviceaccount.com"
  }
}

resource "google_kms_crypto_key_iam_member" "service_agents" {
  for_each = local.kms_users

  crypto_key_id = google_kms_crypto_key.this[each.key].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
