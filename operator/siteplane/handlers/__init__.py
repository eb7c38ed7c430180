"""kopf handlers: the only package that imports kopf. Importing it registers every handler."""

from siteplane.handlers import admission, lifecycle, login, rbac, watches

__all__ = ["admission", "lifecycle", "login", "rbac", "watches"]
