# GKE Standard, regional, private: the seed's three node pools (general, search-optimized,
# recommendation), Workload Identity, shielded nodes, Dataplane V2 (which enforces NetworkPolicy),
# a release channel, application-layer secrets encryption with CMEK, Managed Prometheus.

resource "google_service_account" "gke_nodes" {
  account_id   = "${var.name}-gke-nodes"
  display_name = "GKE nodes (${var.environment}): logs, metrics, image pulls only"
}

resource "google_project_iam_member" "gke_nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/autoscaling.metricsWriter",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.gke_nodes.email}"
}

resource "google_container_cluster" "this" {
  provider = google-beta

  name     = "${local.prefix}-cluster"
  location = var.region

  network    = google_compute_network.vpc.id
  subnetwork = google_compute_subnetwork.gke.id

  # Node pools are separate resources; the default pool is removed right after creation. While it
  # exists it runs as the node service account, with shielded nodes and the GKE metadata server,
  # like every other pool.
  remove_default_node_pool = true
  initial_node_count       = 1

  node_config {
    service_account = google_service_account.gke_nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    image_type      = "COS_CONTAINERD"

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  deletion_protection = var.deletion_protection
  resource_labels     = local.labels

  release_channel {
    channel = var.gke_release_channel
  }

  networking_mode = "VPC_NATIVE"
  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = var.gke_private_endpoint
    master_ipv4_cidr_block  = var.master_cidr

    master_global_access_config {
      enabled = false
    }
  }

  master_authorized_networks_config {
    gcp_public_cidrs_access_enabled = false

    dynamic "cidr_blocks" {
      for_each = var.master_authorized_networks
      content {
        cidr_block   = cidr_blocks.value.cidr_block
        display_name = cidr_blocks.value.display_name
      }
    }
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  # Dataplane V2 enforces NetworkPolicy itself (the Calico add-on stays off: `enabled = false` is
  # what the API requires with ADVANCED_DATAPATH).
  datapath_provider = "ADVANCED_DATAPATH"
  network_policy {
    enabled = false
  }

  enable_shielded_nodes       = true
  enable_intranode_visibility = true
  enable_legacy_abac          = false
  enable_kubernetes_alpha     = false

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  database_encryption {
    state    = "ENCRYPTED"
    key_name = google_kms_crypto_key.this["gke-secrets"].id
  }

  binary_authorization {
    evaluation_mode = "PROJECT_SINGLETON_POLICY_ENFORCE"
  }

  addons_config {
    http_load_balancing {
      disabled = false
    }
    horizontal_pod_autoscaling {
      disabled = false
    }
    gce_persistent_disk_csi_driver_config {
      enabled = true
    }
  }

  vertical_pod_autoscaling {
    enabled = true
  }

  logging_config {
    enable_components = ["SYSTEM_COMPONENTS", "WORKLOADS"]
  }

  monitoring_config {
    enable_components = ["SYSTEM_COMPONENTS", "DEPLOYMENT", "POD", "HPA"]
    managed_prometheus {
      enabled = true
    }
  }

  security_posture_config {
    mode               = "BASIC"
    vulnerability_mode = "VULNERABILITY_BASIC"
  }

  maintenance_policy {
    recurring_window {
      start_time = "2025-01-04T03:00:00Z"
      end_time   = "2025-01-04T07:00:00Z"
      recurrence = "FREQ=WEEKLY;BYDAY=SA,SU"
    }
  }

  lifecycle {
    # node_config only shapes the removed default pool; changing it later would recreate the cluster.
    ignore_changes = [node_config]
  }

  depends_on = [
    google_project_service.this,
    google_kms_crypto_key_iam_member.service_agents,
  ]

  #checkov:skip=CKV_GCP_65:RBAC through IAM (roles/container.*) on operator groups; Google Groups for RBAC needs a Workspace domain with a gke-security-groups group, which this project does not assume.
  #checkov:skip=CKV_GCP_24:PodSecurityPolicy was removed in Kubernetes 1.25; Pod Security Admission labels on the namespace replace it (k8s/).
}

resource "google_container_node_pool" "this" {
  provider = google-beta
  for_each = var.node_pools

  name     = each.key
  cluster  = google_container_cluster.this.id
  location = var.region

  autoscaling {
    total_min_node_count = each.value.min_nodes
    total_max_node_count = each.value.max_nodes
    location_policy      = "BALANCED"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  upgrade_settings {
    strategy        = "SURGE"
    max_surge       = 1
    max_unavailable = 0
  }

  node_config {
    machine_type    = each.value.machine_type
    image_type      = "COS_CONTAINERD"
    disk_size_gb    = each.value.disk_size_gb
    disk_type       = each.value.disk_type
    spot            = each.value.spot
    service_account = google_service_account.gke_nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    labels = {
      "mediagw.io/pool" = each.key
    }

    dynamic "taint" {
      for_each = each.value.taint ? [each.key] : []
      content {
        key    = "mediagw.io/pool"
        value  = taint.value
        effect = "NO_SCHEDULE"
      }
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    resource_labels = local.labels
  }
}
