"""Permissions: the shipped roles, AccessGrant → Role/RoleBinding, RBAC → database grants, and the
evaluator. Pure code: no Kubernetes client, no database session."""
