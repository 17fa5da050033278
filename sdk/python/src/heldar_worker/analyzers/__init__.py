"""Reference analyzers (`motion`, `person`) and how the CLI finds an analyzer by name."""

from __future__ import annotations

import importlib

from heldar_worker.analyzer import Analyzer
from heldar_worker.analyzers.motion import MotionAnalyzer
from heldar_worker.analyzers.person import PersonAnalyzer

BUILTIN: dict[str, type[Analyzer]] = {"motion": MotionAnalyzer, "person": PersonAnalyzer}


def load(spec: str) -> type[Analyzer]:
    """A built-in analyzer by name, or your own as `package.module:ClassName`."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        names = ", ".join(sorted(BUILTIN))
        raise ValueError(f"unknown analyzer {spec!r}: use one of {names}, or module:Class")
    found = getattr(importlib.import_module(module_name), attribute, None)
    if not (isinstance(found, type) and issubclass(found, Analyzer)):
        raise TypeError(f"{spec!r} is not an Analyzer subclass")
    return found


__all__ = ["BUILTIN", "MotionAnalyzer", "PersonAnalyzer", "load"]
