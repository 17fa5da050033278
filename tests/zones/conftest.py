"""Zone tests share one compiled kernel: compile it (or load numba's disk cache) once, up front,
so no Hypothesis example pays a cold compile against its deadline."""

from __future__ import annotations

import pytest

from heldar.zones.engine import warm_up


@pytest.fixture(autouse=True, scope="session")
def compiled_kernel() -> None:
    warm_up()
