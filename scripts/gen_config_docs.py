"""Write docs/reference/configuration.md from the Settings model (run after changing a setting).

A test (tests/test_docs.py) fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo

from heldar.settings import Settings

TARGET = Path(__file__).resolve().parent.parent / "docs" / "reference" / "configuration.md"


def _bounds(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in (
            ("ge", "≥"),
            ("gt", ">"),
            ("le", "≤"),
            ("lt", "<"),
            ("max_length", "len ≤"),
        ):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "Every setting comes from its environment variable (prefix `HELDAR_`);",
        "`heldar serve` flags `--host`, `--port`, `--data-dir` override the first three. From",
        "`heldar.settings.Settings` by `scripts/gen_config_docs.py` — do not edit by hand.",
        "",
        "| variable | default | bounds | meaning |",
        "|---|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "—" if default is None else f"`{default}`"
        if name == "data_dir":
            shown = "`./data`"
        lines.append(
            f"| `HELDAR_{name.upper()}` | {shown} | {_bounds(info)} | {info.description or ''} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text() == render() else 1)
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
