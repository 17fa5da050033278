"""Probes served at the root: `/healthz` (the process answers), `/readyz` (the store answers).

Both are public by design (load balancers and orchestrators call them without credentials) and
say nothing beyond the version.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from heldar import __version__
from heldar.api.deps import KernelDep
from heldar.errors import StoreBusy

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process is up and its event loop answers. Unauthenticated."""
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(kernel: KernelDep) -> Health | JSONResponse:
    """Readiness: the store answers a query. Unauthenticated."""
    try:
        await kernel.store.ping()
    except (StoreBusy, SQLAlchemyError, OSError):
        body = Health(status="unavailable", version=__version__)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "2"})
    return Health(status="ready", version=__version__)
