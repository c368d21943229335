"""The HTTP service (``billfold serve``): FastAPI over the engine."""

from billfold.adapters.http.app import create_app

__all__ = ["create_app"]
