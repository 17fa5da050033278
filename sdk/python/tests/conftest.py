"""Fixtures shared by the SDK tests: the real kernel (`kernel`), and frames of a moving square.

`kernel` runs Heldar itself in this process (tests/live_kernel.py), on a data directory under
`tmp_path`, with recording and sampling off; a module that needs other settings overrides
`settings`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heldar.settings import Settings
from live_kernel import KernelTransport, LiveKernel, kernel_settings, log_in, running
from samples import encode_jpeg, square_frame


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return kernel_settings(tmp_path / "data")


@pytest.fixture
async def kernel(settings: Settings) -> AsyncIterator[LiveKernel]:
    async with running(settings) as app:
        admin = await log_in(app)
        try:
            yield LiveKernel(app, admin, KernelTransport(app))
        finally:
            await admin.aclose()


@pytest.fixture
def moving_square() -> list[bytes]:
    """Four JPEG frames of a square moving right by 12 px a frame."""
    return [encode_jpeg(square_frame(40 + 12 * i, 60)) for i in range(4)]
