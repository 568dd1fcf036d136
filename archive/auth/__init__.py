"""Accounts, roles and three-level scope: who may see and do what."""
