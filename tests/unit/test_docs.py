"""The README keeps its promises: the two commands exist, every setting is documented."""
from __future__ import annotations

import os
from pathlib import Path

from archive.config import config_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_configuration_key_is_in_the_readme_table():
    for name, _default, _desc in config_table():
        assert f"| `{name}` |" in README, name


def test_the_two_commands_come_first_and_are_executable():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "bin/serve" in first_block and "bin/test" in first_block
    for script in ("bin/serve", "bin/test", "bin/setup", ".ci/run"):
        assert os.access(ROOT / script, os.X_OK), script
    assert "bin/test" in (ROOT / ".ci/run").read_text()
