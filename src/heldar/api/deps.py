"""Request-scoped accessors: the kernel and its services, for thin route handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from heldar.app import Kernel
from heldar.cameras.registry import CameraRegistry


def get_kernel(request: Request) -> Kernel:
    kernel: Kernel = request.app.state.kernel
    return kernel


def get_cameras(request: Request) -> CameraRegistry:
    return get_kernel(request).cameras


KernelDep = Annotated[Kernel, Depends(get_kernel)]
CamerasDep = Annotated[CameraRegistry, Depends(get_cameras)]
