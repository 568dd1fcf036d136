"""Verifiable random sampling of case files and review scoring (planned: issue 5)."""
