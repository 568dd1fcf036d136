"""The ``archive`` command line: one module per command group; every command reads the same
configuration (ARCHIVE_* variables)."""
from __future__ import annotations

from archive.cli.base import _archive, _sessions, failure, load_config, main, running_store

__all__ = ["main", "load_config", "running_store", "failure", "_archive", "_sessions"]


def _register_commands() -> None:
    from archive.cli import accounts, deadlines, integrity, orgs, sampling, service  # noqa: F401  (they add to main)
    from archive.cli.basicinfo import basic_info, powers
    from archive.cli.reports import report
    from archive.cli.ocr import ocr
    from archive.cli.examine import examine
    from archive.cli.renditions import renditions
    from archive.cli.transfer import transfer

    main.add_command(ocr)
    main.add_command(renditions)
    main.add_command(transfer)
    main.add_command(examine)
    main.add_command(powers)
    main.add_command(basic_info)
    main.add_command(report)


_register_commands()
