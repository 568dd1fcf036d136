"""Build hook: the sdist and the wheel carry pdf.js, built from the npm registry by
bin/build-assets, or the build fails saying why (a package without it previews nothing)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
PDFJS = ROOT / "archive" / "web" / "static" / "vendor" / "pdfjs" / "pdf.min.mjs"


def ensure_assets() -> None:
    """Build the front-end packages unless they are there (an sdist carries them built)."""
    script = ROOT / "bin" / "build-assets"
    if script.exists() and shutil.which("npm"):
        subprocess.run([str(script)], check=True)
    if not PDFJS.exists():
        raise SystemExit(
            "pdf.js is missing from archive/web/static/vendor/pdfjs: it is built from the npm "
            "registry by bin/build-assets, which needs Node.js and npm (apt-get install npm). "
            "Without it no page can preview a PDF.")


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):  # bin/setup builds them for editable installs
            ensure_assets()
        super().run()


class SdistWithAssets(sdist):
    def run(self) -> None:
        ensure_assets()
        super().run()


setup(cmdclass={"build_py": BuildPyWithAssets, "sdist": SdistWithAssets})
