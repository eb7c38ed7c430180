"""kopf handlers: the only package that imports kopf. Importing it registers every handler."""

from siteplane.handlers import acceptance, login, periodic, resources, settings

__all__ = ["acceptance", "login", "periodic", "resources", "settings"]
