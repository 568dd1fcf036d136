"""``archive transfer``: 移交 — export the filed cases of an agency and year as a package the
receiving archives verifies alone, verify a package, and mark an accepted one's cases 已移交."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("transfer")
def transfer() -> None:
    """移交: packages of filed cases for the archives."""


@transfer.command("export")
@click.option("--agency", required=True, help="the agency's code")
@click.option("--year", required=True, type=int, help="the year of closing (年度)")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="a new directory for the package")
@click.option("--by", default="cli", help="who exports (recorded in the package and the audit trail)")
def transfer_export(agency: str, year: int, out: Path, by: str) -> None:
    """Write the BagIt package (originals, renditions, metadata XML, register as XLSX and PDF, the
    four-property check at export, the audit entries and their chain)."""
    from archive.cli.base import _archive, load_config, running_store
    from archive.clock import now
    from archive.errors import ArchiveError
    from archive.services.transfer import export_package

    cfg = load_config()
    with running_store(cfg):
        archive = _archive(cfg)
        with archive.sessions() as session:
            try:
                result = export_package(session, archive.store, cfg, agency, year, out, by, now())
            except ArchiveError as exc:
                raise click.ClickException(exc.message + "".join(f"\n  {m}" for v in exc.errors.values() for m in v))
    click.echo(f"exported {len(result.cases)} cases, {result.files} files ({result.bytes} bytes) to {result.path}")
    if result.timestamp:
        click.echo(f"timestamp: {result.timestamp}")
    for line in result.failed_checks:
        click.echo(f"left out (four-property check failed): {line}")


@transfer.command("verify")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
def transfer_verify(package: Path) -> None:
    """Check a package from itself alone: checksums, digests against the metadata, the metadata
    complete, 档号, the register, the audit entries and their chain. Exit 1 when an item fails."""
    from archive.services.transfer import verify_package

    report = verify_package(package)
    for item, result, reason in report.items:
        click.echo(f"{item}\t{result}\t{reason}")
    click.echo("package verified: all items passed" if report.passed else "package NOT verified")
    sys.exit(0 if report.passed else 1)


@transfer.command("accept")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--by", default="cli", help="who records the acceptance")
def transfer_accept(package: Path, by: str) -> None:
    """The archives accepted the package: its cases become 已移交 (kept, read-only; audited)."""
    from archive.cli.base import _sessions, load_config
    from archive.services.transfer import accept, verify_package

    if not verify_package(package).passed:
        raise click.ClickException("the package does not verify; nothing was marked")
    n = accept(_sessions(load_config())(), package, by)
    click.echo(f"{n} cases marked 已移交")
