"""MQTT: events to `<prefix>/<camera_id>/events`, availability to `<prefix>/<camera_id>/status`.

The Home Assistant / Frigate convention: availability is the retained plain payload `online` or
`offline` (the kernel's own is `<prefix>/status`, with an `offline` last will), events are JSON at
QoS 1, not retained; events without a camera go to `<prefix>/events`. Publishing is best-effort and
never slows the event path: listeners put into a bounded queue (full: the message is dropped and
counted), one supervised task drains it, reconnecting with capped backoff on the injected clock.
The broker password never reaches a log line (the URL is registered with `redact()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt

from heldar.clock import Clock
from heldar.errors import ConfigurationError
from heldar.events.models import Event
from heldar.logs import redact, register_secret
from heldar.supervisor import Backoff

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
TIMEOUT_S = 10.0
SHUTDOWN_PUBLISH_S = 2.0
ONLINE = b"online"
OFFLINE = b"offline"


@dataclass(frozen=True)
class Broker:
    """Where to publish, from `HELDAR_MQTT_URL` (`mqtt://` or `mqtts://`)."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Broker:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError("HELDAR_MQTT_URL is malformed") from exc
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigurationError("HELDAR_MQTT_URL must be mqtt://[user:pass@]host[:port]")
        tls = parts.scheme == "mqtts"
        password = unquote(parts.password) if parts.password is not None else None
        register_secret(password)
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=password,
            tls=tls,
        )


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool


class MqttPublisher:
    """The supervised service `mqtt`; `event` and `camera_status` are its inputs."""

    name = "mqtt"

    def __init__(
        self,
        broker: Broker,
        prefix: str,
        clock: Clock,
        *,
        queue_size: int = QUEUE_SIZE,
        backoff: Backoff | None = None,
    ) -> None:
        self._broker = broker
        self._prefix = prefix
        self._clock = clock
        self._queue: asyncio.Queue[Message] = asyncio.Queue(queue_size)
        self._backoff = backoff or Backoff(initial_s=1.0, cap_s=30.0, healthy_after_s=60.0)
        self._status: dict[str, bytes] = {}
        self._identifier = f"heldar-{secrets.token_hex(4)}"
        self.connected = False
        self.published_total = 0
        self.dropped_total = 0

    # -- inputs (never block) --------------------------------------------------------------------

    def topic(self, camera_id: str | None, leaf: str) -> str:
        return f"{self._prefix}/{camera_id}/{leaf}" if camera_id else f"{self._prefix}/{leaf}"

    def event(self, event: Event) -> None:
        """`EventLog` listener."""
        data = json.dumps(event.model_dump(mode="json"), separators=(",", ":")).encode()
        self._offer(Message(self.topic(event.camera_id, "events"), data, retain=False))

    def camera_status(self, camera_id: str, online: bool | None) -> None:
        """Availability changed; None: the camera is gone (its retained status is cleared)."""
        payload = b"" if online is None else (ONLINE if online else OFFLINE)
        if online is None:
            self._status.pop(camera_id, None)
        else:
            self._status[camera_id] = payload
        self._offer(Message(self.topic(camera_id, "status"), payload, retain=True))

    def _offer(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped_total += 1

    # -- the service -----------------------------------------------------------------------------

    async def run(self) -> None:
        delays = self._backoff.delays()
        pending: Message | None = None
        while True:
            started = self._clock.monotonic()
            client = self._client()
            try:
                async with client:
                    self.connected = True
                    log.info("mqtt connected to %s:%d", self._broker.host, self._broker.port)
                    try:
                        await self._announce(client)
                        while True:
                            if pending is None:
                                pending = await self._queue.get()
                            await client.publish(
                                pending.topic, pending.payload, qos=1, retain=pending.retain
                            )
                            self.published_total += 1
                            pending = None
                    except asyncio.CancelledError:
                        self.connected = False
                        await self._farewell(client)  # a clean stop, not a broken connection
                        raise
                    finally:
                        self.connected = False
            except aiomqtt.MqttError as exc:
                delay = delays.after_run(self._clock.monotonic() - started)
                log.warning(
                    "mqtt %s:%d unavailable (%s); retrying in %.0f s",
                    self._broker.host,
                    self._broker.port,
                    redact(str(exc)),
                    delay,
                )
                await self._clock.sleep(delay)

    def _client(self) -> aiomqtt.Client:
        broker = self._broker
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=self._identifier,
            will=aiomqtt.Will(self.topic(None, "status"), OFFLINE, qos=1, retain=True),
            timeout=TIMEOUT_S,
            tls_context=ssl.create_default_context() if broker.tls else None,
        )

    async def _announce(self, client: aiomqtt.Client) -> None:
        """After every (re)connect: the kernel is online, and every camera's current status."""
        await client.publish(self.topic(None, "status"), ONLINE, qos=1, retain=True)
        for camera_id, payload in list(self._status.items()):
            await client.publish(self.topic(camera_id, "status"), payload, qos=1, retain=True)

    async def _farewell(self, client: aiomqtt.Client) -> None:
        """On a clean stop nobody records any more: every camera and the kernel go offline
        (a clean disconnect does not fire the last will)."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(SHUTDOWN_PUBLISH_S):
                for camera_id in list(self._status):
                    await client.publish(
                        self.topic(camera_id, "status"), OFFLINE, qos=1, retain=True
                    )
                await client.publish(self.topic(None, "status"), OFFLINE, qos=1, retain=True)
