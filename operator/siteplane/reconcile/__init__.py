"""Reconcile services, one per kind: gather, plan, apply, report status. No kopf in here."""
