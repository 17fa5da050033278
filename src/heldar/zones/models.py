"""Zone types: what clients send (create, update), the stored zone, and its detection config.

Field names and bounds are the reference contract (DESIGN.md §4). Every bad shape is a validation
error with a stable type and a reason (`docs/design/zones.md`, Validation); the point list is
counted before pydantic parses it, so a huge list costs nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from heldar.errors import InvalidInput
from heldar.events.models import Severity
from heldar.zones.geometry import MAX_POINTS, shape_problem

ZoneKind = Literal["region", "presence", "line"]
Direction = Literal["any", "ab", "ba"]

Coordinate = Annotated[
    float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False, description="Normalized 0..1.")
]
Point = tuple[Coordinate, Coordinate]
Polygon = Annotated[
    list[Point],
    Field(
        description=f"[[x, y], …] normalized, y down: 3..{MAX_POINTS} points, or 2 for a line.",
        examples=[[[0.1, 0.5], [0.9, 0.5], [0.9, 0.95], [0.1, 0.95]]],
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=128, description="Display name.")]
Label = Annotated[str, Field(min_length=1, max_length=64)]
Labels = Annotated[
    list[Label],
    Field(max_length=64, description="Labels this zone reacts to; empty = every label."),
]
DwellSeconds = Annotated[
    float,
    Field(
        ge=0.0,
        le=86_400.0,
        allow_inf_nan=False,
        description="`dwell` once per visit after this long inside; 0 = never. Lines ignore it.",
    ),
]
ConfirmFrames = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        description="Consecutive observations that confirm an enter, exit or crossing.",
    ),
]
MinConfidence = Annotated[
    float,
    Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Detections below it are not observed."),
]
DirectionField = Annotated[
    Direction, Field(description="Crossings a line reports: a→b, b→a or any. Polygons ignore it.")
]
StaticSuppression = Annotated[
    bool, Field(description="A track that never moved (a parked car) does not enter.")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _count_points(value: Any) -> Any:
    """Refuse an oversized point list before pydantic parses a single element of it."""
    if isinstance(value, list | tuple) and len(value) > MAX_POINTS:
        raise PydanticCustomError(
            "zone_too_many_points",
            "a zone has at most {max} points, not {count}",
            {"max": MAX_POINTS, "count": len(value)},
        )
    return value


def _check_shape(kind: ZoneKind, polygon: list[Point]) -> None:
    problem = shape_problem(polygon, line=kind == "line")
    if problem is not None:
        raise PydanticCustomError(problem.code, "{reason}", {"reason": problem.reason})


class ZoneConfig(_Strict):
    """`config` of a zone: how observations become events."""

    confirm_frames: ConfirmFrames = 2
    min_confidence: MinConfidence = 0.5
    direction: DirectionField = "any"
    static_suppression: StaticSuppression = False


class ZoneConfigUpdate(_Strict):
    """`config` in a PATCH: only the fields given change."""

    confirm_frames: ConfirmFrames | None = None
    min_confidence: MinConfidence | None = None
    direction: DirectionField | None = None
    static_suppression: StaticSuppression | None = None


class ZoneCreate(_Strict):
    """Body of `POST /cameras/{id}/zones`."""

    name: Name
    kind: ZoneKind = "region"
    polygon: Polygon
    labels: Labels = Field(default_factory=list)
    dwell_seconds: DwellSeconds = 0.0
    severity: Severity = "info"
    enabled: bool = True
    config: ZoneConfig = Field(default_factory=ZoneConfig)

    _count = field_validator("polygon", mode="before")(_count_points)

    @model_validator(mode="after")
    def _shape(self) -> ZoneCreate:
        _check_shape(self.kind, self.polygon)
        return self


class ZoneUpdate(_Strict):
    """Body of `PATCH /zones/{zone_id}`: every field optional. `merged` validates the result."""

    name: Name | None = None
    kind: ZoneKind | None = None
    polygon: Polygon | None = None
    labels: Labels | None = None
    dwell_seconds: DwellSeconds | None = None
    severity: Severity | None = None
    enabled: bool | None = None
    config: ZoneConfigUpdate | None = None

    _count = field_validator("polygon", mode="before")(_count_points)

    @model_validator(mode="after")
    def _shape(self) -> ZoneUpdate:
        if self.polygon is not None and self.kind is not None:
            _check_shape(self.kind, self.polygon)
        elif self.polygon is not None and len(self.polygon) != 2:
            _check_shape("region", self.polygon)  # not a line: it must be a polygon
        return self

    def merged(self, current: ZoneCreate) -> ZoneCreate:
        """`current` with this update applied, validated as a whole (a new kind with the old
        polygon, say). Raises `InvalidInput` (422) with the reason; the caller stores nothing."""
        data = current.model_dump(include=set(ZoneCreate.model_fields))
        changes = self.model_dump(exclude_unset=True, exclude_none=True)
        config_changes = changes.pop("config", {})
        data.update(changes)
        data["config"] = {**data["config"], **config_changes}
        try:
            return ZoneCreate.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            detail = f"{where}: {first['msg']}" if where else first["msg"]
            raise InvalidInput(detail, code=first["type"]) from None


class Zone(ZoneCreate):
    """A zone as stored and as clients see it."""

    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    created_at: datetime
    updated_at: datetime
