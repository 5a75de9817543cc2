# Cloud SQL for PostgreSQL 16: the event store, the outbox and every read model.
# Private IP only, client certificates required (the Cloud SQL Auth Proxy sidecar presents them),
# IAM database authentication (no passwords anywhere: each role logs in as its service account),
# automated daily backups with point-in-time recovery, CMEK, query insights, logging flags.

resource "google_sql_database_instance" "this" {
  name                = "${local.prefix}-postgres"
  region              = var.region
  database_version    = "POSTGRES_16"
  encryption_key_name = google_kms_crypto_key.this["cloudsql"].id
  deletion_protection = var.deletion_protection

  settings {
    edition                     = "ENTERPRISE"
    tier                        = var.sql_tier
    availability_type           = var.sql_availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.sql_disk_size_gb
    disk_autoresize             = true
    disk_autoresize_limit       = var.sql_disk_autoresize_limit_gb
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled                                  = false
      private_network                               = google_compute_network.vpc.id
      enable_private_path_for_google_cloud_services = true
      ssl_mode                                      = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "03:00"
      location                       = var.region
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.sql_log_retention_days

      backup_retention_settings {
        retained_backups = var.sql_backup_retained_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      query_string_length     = 1024
      record_application_tags = true
      record_client_address   = false
    }

    # IAM database authentication.
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }

    # Sizing: every mediagw process pools database.max_connections (16 by default).
    database_flags {
      name  = "max_connections"
      value = tostring(var.sql_max_connections)
    }

    # Logging (CIS PostgreSQL on Cloud SQL).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "warning"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_executor_stats"
      value = "off"
    }
    database_flags {
      name  = "log_parser_stats"
      value = "off"
    }
    database_flags {
      name  = "log_planner_stats"
      value = "off"
    }
    database_flags {
      name  = "log_statement_stats"
      value = "off"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "role,ddl"
    }
  }

  depends_on = [
    google_service_networking_connection.private_services,
    google_kms_crypto_key_iam_member.service_agents,
  ]

  #checkov:skip=CKV_GCP_79:PostgreSQL 16 is the version the product is developed and tested against; major upgrades are a planned, tested change (docs/operations.md).
  #checkov:skip=CKV2_GCP_13:log_duration=on writes a line for every statement (thousands per second from the API and projectors); Query Insights records statement latency instead.
}

resource "google_sql_database" "mediagw" {
  name     = var.database_name
  instance = google_sql_database_instance.this.name
}

# One IAM database user per role: "<service account email without .gserviceaccount.com>".
# They hold no privileges until granted (docs/operations.md, "Database bootstrap").
resource "google_sql_user" "role" {
  for_each = local.roles

  name     = trimsuffix(google_service_account.role[each.key].email, ".gserviceaccount.com")
  instance = google_sql_database_instance.this.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}
