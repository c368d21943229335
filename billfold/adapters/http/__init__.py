"""The HTTP service (``billfold serve``): FastAPI over the engine.

Everything here is the ``server`` extra (FastAPI, uvicorn, python-multipart, argon2): without it,
importing any module of this package raises :class:`~billfold.extras.MissingExtra`, one line
naming the extra, instead of an ``ImportError`` from deep inside.
"""

from billfold.extras import requires_extra

with requires_extra("server"):
    import argon2  # noqa: F401
    import fastapi  # noqa: F401
    import python_multipart  # noqa: F401
    import uvicorn  # noqa: F401

from billfold.adapters.http.app import create_app

__all__ = ["create_app"]
