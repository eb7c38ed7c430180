"""The dashboard API: the application database served to people, filtered by their permissions.

An ASGI app (FastAPI, served by uvicorn with `siteplane serve`), separate from the operator and
stateless: it reads the database, never writes it, and makes changes only through the Kubernetes
API with the caller's own token.
"""
