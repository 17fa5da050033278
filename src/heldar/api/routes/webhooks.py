"""`/webhooks` (reference contract): subscriptions, a test delivery, and the delivery log.

All of it needs `webhooks:manage`, and an unscoped credential: a webhook receives the events of
every camera, so a camera-scoped key may not create or read one. The secret is write-only (answers
say `has_secret`); every change is audited without it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from heldar.api.deps import AuditDep, KernelDep, WebhooksManage
from heldar.auth.models import Principal
from heldar.events.models import (
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookTestResult,
    WebhookUpdate,
)

router = APIRouter(tags=["webhooks"])

WebhookIdPath = Annotated[int, Path(ge=1, le=2**62)]
MAX_DELIVERIES_PAGE = 1000


def _unscoped(principal: Principal) -> None:
    principal.check_unscoped("manage webhooks (they receive every camera's events)")


@router.get("/webhooks", response_model=list[Webhook])
async def list_webhooks(kernel: KernelDep, principal: WebhooksManage) -> list[Webhook]:
    _unscoped(principal)
    return await kernel.observability.webhooks.list()


@router.post("/webhooks", response_model=Webhook, status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookCreate, kernel: KernelDep, audit: AuditDep, principal: WebhooksManage
) -> Webhook:
    """Deliver future events matching `event_types` and `min_severity` to `url`."""
    _unscoped(principal)
    webhook = await kernel.observability.webhooks.create(body)
    await audit.record(
        principal.audit_event(
            "webhook.create",
            target=f"webhook:{webhook.id}",
            detail={"name": webhook.name, "has_secret": webhook.has_secret},
        )
    )
    return webhook


@router.patch("/webhooks/{webhook_id}", response_model=Webhook)
async def update_webhook(
    webhook_id: WebhookIdPath,
    body: WebhookUpdate,
    kernel: KernelDep,
    audit: AuditDep,
    principal: WebhooksManage,
) -> Webhook:
    _unscoped(principal)
    webhook = await kernel.observability.webhooks.update(webhook_id, body)
    await audit.record(
        principal.audit_event(
            "webhook.update",
            target=f"webhook:{webhook_id}",
            detail={"fields": sorted(body.model_fields_set)},
        )
    )
    return webhook


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(
    webhook_id: WebhookIdPath, kernel: KernelDep, audit: AuditDep, principal: WebhooksManage
) -> Response:
    """Delete the webhook and its outbox (pending deliveries are dropped)."""
    _unscoped(principal)
    await kernel.observability.webhooks.delete(webhook_id)
    await audit.record(principal.audit_event("webhook.delete", target=f"webhook:{webhook_id}"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks/{webhook_id}/test", response_model=WebhookTestResult)
async def test_webhook(
    webhook_id: WebhookIdPath, kernel: KernelDep, audit: AuditDep, principal: WebhooksManage
) -> WebhookTestResult:
    """Send one signed `test` event now and say how the receiver answered (not retried)."""
    _unscoped(principal)
    result = await kernel.observability.webhooks.test(webhook_id)
    await audit.record(
        principal.audit_event(
            "webhook.test",
            target=f"webhook:{webhook_id}",
            detail={"ok": result.ok, "status": result.status},
        )
    )
    return result


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDelivery])
async def list_deliveries(
    webhook_id: WebhookIdPath,
    kernel: KernelDep,
    principal: WebhooksManage,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES_PAGE)] = 100,
) -> list[WebhookDelivery]:
    """The webhook's deliveries, newest first; page back with `before_id`."""
    _unscoped(principal)
    return await kernel.observability.webhooks.deliveries(
        webhook_id, status=status_, before_id=before_id, limit=limit
    )
