"""The pages' one blueprint (its templates and static files); the page modules add to it."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", "archive.web", template_folder="templates", static_folder="static",
               static_url_path="/static")
