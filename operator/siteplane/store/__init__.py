"""Persistence: SQLAlchemy models, repositories (never commit), a unit of work (commits), migrations."""
