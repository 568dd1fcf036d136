"""The operations manual keeps up with the product: every page in a role's navigation has a
section in the role's chapter, every section's templates and screenshots exist, and no
screenshot is older (by git) than a template its section shows — change a page, take its
screenshots again (bin/manual --run) and commit them with it."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from archive import manual
from archive.auth.accounts import ROLES
from archive.auth.principal import Principal
from archive.web.layout import nav_items

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "archive" / "web" / "templates"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_in_a_roles_navigation_has_its_section(role):
    chapter = manual.chapter(role)
    assert chapter is not None, f"no chapter for {role}"
    p = Principal(1, "x", role, "X", frozenset({"X"}), "session")
    covered = {s["nav"] for s in chapter["sections"]}
    missing = [label for label, _, key in nav_items(p) if key not in covered]
    assert not missing, f"{role}: no section for {missing}"
    assert {"notifications", "security"} <= covered  # the header's 消息 and 安全设置, for everyone


def test_every_section_names_existing_templates_and_screenshots():
    data = manual.load()
    for role, r in data["roles"].items():
        assert all(sid in data["sections"] for sid in r["sections"]), role
    for sid, s in data["sections"].items():
        assert s["steps"] and s["shots"] and s["templates"], sid
        for t in s["templates"]:
            assert (TEMPLATES / t).is_file(), f"{sid}: no template {t}"
        for name in s["shots"]:
            assert (manual.SHOTS / name).is_file(), f"{sid}: screenshot {name} missing (bin/manual --run)"


def _committed(path: Path) -> int:
    out = subprocess.run(["git", "log", "-1", "--format=%ct", "--", str(path.relative_to(ROOT))], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out, f"{path} is not committed"
    return int(out)


def test_no_screenshot_is_older_than_the_templates_its_section_shows():
    if not (ROOT / ".git").exists():
        pytest.fail("the manual's freshness is judged from git history: run the tests in a checkout")
    stale = []
    for sid, s in manual.load()["sections"].items():
        newest_template = max(_committed(TEMPLATES / t) for t in s["templates"])
        for name in s["shots"]:
            if _committed(manual.SHOTS / name) < newest_template:
                stale.append(f"{sid}: {name}")
    assert not stale, "screenshots older than their pages' templates (bin/manual --run, then commit): " + \
        ", ".join(stale)
