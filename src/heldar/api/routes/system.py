"""Probes served at the root: `/healthz` (the process answers)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from heldar import __version__

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process is up and its event loop answers. Unauthenticated."""
    return Health(status="ok", version=__version__)
