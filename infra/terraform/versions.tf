# Terraform and provider versions. The google and google-beta providers are pinned to one minor
# series; `terraform init` writes .terraform.lock.hcl with the exact versions and hashes — commit it
# from the first init on a machine that can reach the Terraform registry.
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.36"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.36"
    }
  }

  # State lives in a GCS bucket created once per project by hand (see README.md, "State"):
  #   terraform init -backend-config=environments/<env>.gcs.tfbackend
  backend "gcs" {}
}
