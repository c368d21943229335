"""The database: schema per area (``schema``), repositories and the unit of work, Alembic
migrations, engine creation and readiness, statement staging."""
