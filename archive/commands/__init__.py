"""Command groups of the ``archive`` CLI that live outside ``archive/cli.py``."""
