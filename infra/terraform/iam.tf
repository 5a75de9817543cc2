# One Google service account per role, bound through Workload Identity to the Kubernetes service
# account <ksa_prefix><role> in <k8s_namespace>. No service account keys exist anywhere.

resource "google_service_account" "role" {
  for_each = local.roles

  # account_id is at most 30 characters: "mgw-projector-search-activity" is 29.
  account_id   = "mgw-${each.key}"
  display_name = "mediagw ${each.key} (${var.environment})"
  description  = each.value.description
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each = local.roles

  service_account_id = google_service_account.role[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.k8s_namespace}/${var.ksa_prefix}${each.key}]"

  # The workload pool exists once the cluster does.
  depends_on = [google_container_cluster.this]
}

locals {
  # Project-level roles every mediagw process needs: the Cloud SQL Auth Proxy sidecar (client +
  # IAM database login), Managed Kafka data plane, traces.
  role_project_roles = [
    "roles/cloudsql.client",
    "roles/cloudsql.instanceUser",
    "roles/managedkafka.client",
    "roles/cloudtrace.agent",
  ]

  role_project_bindings = {
    for pair in setproduct(keys(local.roles), local.role_project_roles) :
    "${pair[0]}/${pair[1]}" => { role_key = pair[0], role = pair[1] }
  }

  role_secret_bindings = merge([
    for role_key, role in local.roles : {
      for secret in role.secrets : "${role_key}/${secret}" => { role_key = role_key, secret = secret }
    }
  ]...)
}

resource "google_project_iam_member" "role" {
  for_each = local.role_project_bindings

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.role[each.value.role_key].email}"
}

# Each role reads only the secrets it uses (local.roles[*].secrets).
resource "google_secret_manager_secret_iam_member" "role" {
  for_each = local.role_secret_bindings

  secret_id = google_secret_manager_secret.this[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.role[each.value.role_key].email}"
}

# The External Secrets Operator (k8s/base/external-secret.yaml) reads every secret with one identity
# and writes them into the Kubernetes Secret mediagw-secrets; each role's pods then take only their
# keys by secretKeyRef. (With the Secret Manager CSI driver instead, the per-role grants above are
# the whole story; set external_secrets_ksa = null.)
resource "google_service_account" "external_secrets" {
  count = var.external_secrets_ksa == null ? 0 : 1

  account_id   = "mgw-external-secrets"
  display_name = "External Secrets Operator (${var.environment}): reads the mediagw secrets"
}

resource "google_service_account_iam_member" "external_secrets" {
  count = var.external_secrets_ksa == null ? 0 : 1

  service_account_id = google_service_account.external_secrets[0].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.external_secrets_ksa}]"

  depends_on = [google_container_cluster.this]
}

resource "google_secret_manager_secret_iam_member" "external_secrets" {
  for_each = var.external_secrets_ksa == null ? {} : local.secrets

  secret_id = google_secret_manager_secret.this[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.external_secrets[0].email}"
}
