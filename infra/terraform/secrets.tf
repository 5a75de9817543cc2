# Secret Manager secrets, created EMPTY. Terraform never creates secret versions, so no secret value
# is ever in a plan or in the state: operators add versions with
#   printf '%s' "$VALUE" | gcloud secrets versions add <secret> --data-file=-
# (docs/operations.md, "Secrets"). Each role's service account may read only the secrets it uses
# (iam.tf). Replicated in the product's region only, encrypted with the `secrets` CMEK key.

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  secret_id = each.key
  labels    = local.labels

  annotations = {
    "mediagw.io/usage" = each.value
  }

  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = google_kms_crypto_key.this["secrets"].id
        }
      }
    }
  }

  depends_on = [
    google_project_service.this,
    google_kms_crypto_key_iam_member.service_agents,
  ]
}
