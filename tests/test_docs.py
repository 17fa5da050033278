"""The docs stay true: the configuration reference matches the Settings model."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_generated_from_settings() -> None:
    module = runpy.run_path(str(ROOT / "scripts" / "gen_config_docs.py"))
    expected = module["render"]()
    actual = (ROOT / "docs" / "reference" / "configuration.md").read_text()
    assert actual == expected, "run: .venv/bin/python scripts/gen_config_docs.py"
