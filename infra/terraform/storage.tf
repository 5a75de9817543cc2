# The seed's buckets (images: STANDARD, backups: NEARLINE) plus one for their access logs.
# All: uniform bucket-level access, versioning, public access prevention enforced.
# Images are not public: clients get them through the API (signed URLs or a CDN with private origin
# authentication), never from an allUsers binding.

resource "google_storage_bucket" "access_logs" {
  name                        = "${var.project_id}-${var.name}-access-logs"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.access_logs_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  #checkov:skip=CKV_GCP_62:This is the access-log bucket itself; logging it into itself (CKV_GCP_63) or a third bucket adds nothing.
}

# Cloud Storage writes usage/storage logs as this Google group.
resource "google_storage_bucket_iam_member" "access_logs_writer" {
  bucket = google_storage_bucket.access_logs.name
  role   = "roles/storage.objectCreator"
  member = "group:cloud-storage-analytics@google.com"
}

resource "google_storage_bucket" "images" {
  name                        = "${var.project_id}-${var.name}-images"
  location                    = var.region
  storage_class               = var.images_bucket_storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "images/"
  }
}

resource "google_storage_bucket" "backups" {
  name                        = "${var.project_id}-${var.name}-backups"
  location                    = var.region
  storage_class               = var.backups_bucket_storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.backups_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "backups/"
  }
}

# Connectors store provider artwork; the API reads it (signed URLs).
resource "google_storage_bucket_iam_member" "images_connectors" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.role["connectors"].email}"
}

resource "google_storage_bucket_iam_member" "images_api" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.role["api"].email}"
}

# `gcloud sql export` writes logical dumps here as the Cloud SQL service agent; the migrate job
# (operators' identity for one-off work) writes Qdrant snapshots and reads dumps back.
resource "google_storage_bucket_iam_member" "backups_cloudsql" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_project_service_identity.sqladmin.email}"
}

resource "google_storage_bucket_iam_member" "backups_migrate" {
  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.role["migrate"].email}"
}
