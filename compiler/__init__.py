"""regops: a GitOps configuration compiler for container and OCI registry access."""

__version__ = "0.1.0"
