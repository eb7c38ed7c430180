"""kopf handlers: the only package that imports kopf. Importing it registers every handler."""

from siteplane.handlers import accessgrants, admission, login, periodic, rbac_mirror, resources, settings

__all__ = ["accessgrants", "admission", "login", "periodic", "rbac_mirror", "resources", "settings"]
