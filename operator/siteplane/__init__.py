"""siteplane: hosted sites and their DNS zones as Kubernetes resources."""

__version__ = "0.1.0"
