"""The HTTP edge shared by the API and the pages: who is asking (sessions, tokens, CSRF), the
audit of requests, and one table from domain errors to answers (JSON for the API, Chinese pages
for the browser). Below it: the services; above it: ``archive.api`` and ``archive.web``."""
