"""SQLAlchemy Core repositories and the unit of work."""
