"""What only the API's OpenAPI description needs: a file part of a multipart body."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema


class UploadFileSchema(Schema):
    file = Upload(required=True)
