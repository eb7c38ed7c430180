"""Pydantic models of the custom resources, the kind table and the CRD generator."""
