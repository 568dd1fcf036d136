"""WSGI entry point for production servers, e.g. ``gunicorn 'app:create_app()'``."""
from archive.factory import create_app

__all__ = ["create_app"]
