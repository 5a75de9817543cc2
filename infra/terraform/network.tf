# VPC, the GKE subnet with its secondary ranges, private services access (Cloud SQL, Memorystore),
# Cloud NAT for egress from private nodes (provider APIs), and the VPC's own firewall baseline.

resource "google_compute_network" "vpc" {
  name                    = "${local.prefix}-vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.this]
}

resource "google_compute_subnetwork" "gke" {
  name                     = "${local.prefix}-gke"
  network                  = google_compute_network.vpc.id
  region                   = var.region
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: one peered range for Cloud SQL and Memorystore (private IP only).
resource "google_compute_global_address" "private_services" {
  name          = "${local.prefix}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_service_access_prefix_length
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

# Egress for private nodes: provider APIs (TMDb, Watchmode, …) and image pulls from outside Google.
resource "google_compute_router" "nat" {
  name    = "${local.prefix}-router"
  region  = var.region
  network = google_compute_network.vpc.id
}

resource "google_compute_router_nat" "nat" {
  name                               = "${local.prefix}-nat"
  router                             = google_compute_router.nat.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# Firewall baseline. GKE adds its own rules for nodes, control plane and load balancers; these make
# the default explicit (deny, logged) and admit Google's health checkers to the serving ports.
resource "google_compute_firewall" "deny_all_ingress" {
  name        = "${local.prefix}-deny-all-ingress"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  priority    = 65534
  description = "Deny (and log) any ingress not allowed by a higher-priority rule."

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "allow_health_checks" {
  name        = "${local.prefix}-allow-lb-health-checks"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  priority    = 1000
  description = "Google Cloud load balancer health checks to the serving ports of pods and nodes."

  allow {
    protocol = "tcp"
    ports    = var.health_check_ports
  }

  source_ranges = ["35.191.0.0/16", "130.211.0.0/22"]

  log_config {
    metadata = "EXCLUDE_ALL_METADATA"
  }
}
