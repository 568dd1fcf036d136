"""The package as a production machine installs it: the wheel built from a clean checkout
carries pdf.js (every preview and binder needs it), or the build fails saying why."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _checkout(dest: Path) -> Path:
    """The project's files as a clean clone has them: tracked and new files, nothing ignored
    (so no built pdf.js)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    assert not (dest / "archive/web/static/vendor").exists()
    return dest


def _wheel(src: Path, out: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, env=env, timeout=900)


def test_the_wheel_of_a_clean_checkout_carries_pdfjs(tmp_path):
    src = _checkout(tmp_path / "src")
    built = _wheel(src, tmp_path / "dist", dict(os.environ))
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("case_archive-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=300)
    pip = tmp_path / "venv" / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    installed = list((tmp_path / "venv" / "lib").glob("python3*/site-packages/archive/web/static/vendor/pdfjs"))
    assert installed, "the installed package has no pdf.js"
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs", "cmaps", "standard_fonts"):
        assert (installed[0] / name).exists(), name
    assert (installed[0] / "pdf.min.mjs").stat().st_size > 100_000


def test_without_npm_the_build_fails_saying_why(tmp_path):
    src = _checkout(tmp_path / "src")
    # a PATH with this Python but no npm
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("git",):
        found = shutil.which(tool)
        if found:
            (bare / tool).symlink_to(found)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{bare}"}
    built = _wheel(src, tmp_path / "dist", env)
    assert built.returncode != 0
    assert "pdf.js is missing" in built.stderr + built.stdout and "npm" in built.stderr + built.stdout
