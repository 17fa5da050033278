"""Probes served at the root: `/healthz` (the process answers), `/readyz` (ready for traffic).

Both are public by design (load balancers and orchestrators call them without credentials) and
say nothing beyond the version and, for readiness, why not and the recording share.
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


class Ready(BaseModel):
    status: str  # ready | unavailable
    version: str
    ready: bool
    reason: str | None = None
    recording_pct: float | None = None
    required_pct: float | None = None


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process is up and its event loop answers. Unauthenticated."""
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
async def readyz(kernel: KernelDep) -> Ready | JSONResponse:
    """Readiness: the store is writable, the services run and, with
    `HELDAR_READYZ_MIN_RECORDING_PERCENT`, at least that share of the cameras expected to record
    are recording. Unauthenticated; 503 with the reason otherwise."""
    try:
        await kernel.store.ping()
        readiness = await kernel.observability.readiness(kernel.supervisor.running)
    except (StoreBusy, SQLAlchemyError, OSError):
        body = Ready(
            status="unavailable",
            version=__version__,
            ready=False,
            reason="the store is unavailable",
        )
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "2"})
    body = Ready(
        status="ready" if readiness.ready else "unavailable",
        version=__version__,
        **readiness.model_dump(),
    )
    if not readiness.ready:
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return body
