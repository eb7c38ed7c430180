"""Adopting existing zones: reading a served zone and writing the manifests that describe it exactly."""
