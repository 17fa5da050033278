"""JSON request bodies validated by pydantic-core straight from the bytes (hot routes).

FastAPI parses a body with `json.loads` and then validates the Python objects; for ingest (up to
1000 detections per request, hundreds of requests a second) `Model.model_validate_json` on the raw
bytes does both in one pass, about 1.6× faster. A route using it declares its body with
`openapi_extra={"requestBody": json_body(Model)}`, so the published contract is unchanged, and
calls `await parse(request, Model)`; errors are the same 422 `validation_error` as FastAPI's.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

BODY_MODELS: dict[str, type[BaseModel]] = {}
"""Models named by `json_body`; the OpenAPI builder adds their schemas to the components."""


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route whose JSON body is `model`."""
    BODY_MODELS[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


async def parse(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model`, or a 422 like FastAPI's own body validation."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def component_schemas() -> dict[str, Any]:
    """The JSON schemas of `BODY_MODELS` and of the models they use, by name."""
    out: dict[str, Any] = {}
    for name, model in BODY_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    return out
