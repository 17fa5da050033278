"""MQTT against a real Mosquitto on 127.0.0.1: events, retained availability, the last will, and
a kernel that publishes what it logs. Each test uses its own topic prefix (the broker is shared)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from pydantic import SecretStr

from heldar.api.app import create_app
from heldar.cameras.models import CameraCreate
from heldar.clock import SystemClock
from heldar.errors import ConfigurationError
from heldar.events.models import Event
from heldar.events.mqtt import Broker, MqttPublisher
from heldar.settings import Settings
from tests.events.mqtt_broker import mqtt_port  # noqa: F401 - a fixture
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USER, FAST_HASHING
from tests.support.clock import FakeClock

NOW_EVENT = {
    "id": 7,
    "camera_id": "gate",
    "event_type": "camera_offline",
    "severity": "warning",
    "timestamp": "2026-11-25T12:00:00Z",
    "payload": {"reconnects": 1},
}


@pytest.fixture
def prefix() -> str:
    return f"heldartest{secrets.token_hex(4)}"


async def _collect(
    port: int, topic: str, count: int, timeout: float = 10.0
) -> list[aiomqtt.Message]:
    """The first `count` messages on `topic` (retained ones included) from a fresh subscriber."""
    got: list[aiomqtt.Message] = []
    async with aiomqtt.Client("127.0.0.1", port) as sub:
        await sub.subscribe(topic, qos=1)
        async with asyncio.timeout(timeout):
            async for message in sub.messages:
                got.append(message)
                if len(got) == count:
                    break
    return got


async def _clear(port: int, prefix: str, camera_ids: list[str]) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        for topic in [f"{prefix}/status"] + [f"{prefix}/{c}/status" for c in camera_ids]:
            await client.publish(topic, b"", retain=True)


@pytest.fixture
async def publisher(mqtt_port: int, prefix: str) -> AsyncIterator[MqttPublisher]:  # noqa: F811
    mqtt = MqttPublisher(Broker.parse(f"mqtt://127.0.0.1:{mqtt_port}"), prefix, SystemClock())
    task = asyncio.create_task(mqtt.run())
    try:
        yield mqtt
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await _clear(mqtt_port, prefix, ["gate", "yard"])


async def test_events_and_retained_status_reach_a_subscriber(
    publisher: MqttPublisher,
    mqtt_port: int,  # noqa: F811
    prefix: str,
) -> None:
    async with aiomqtt.Client("127.0.0.1", mqtt_port) as sub:
        await sub.subscribe(f"{prefix}/#", qos=1)
        publisher.event(Event.model_validate(NOW_EVENT))
        publisher.event(Event.model_validate(NOW_EVENT | {"id": 8, "camera_id": None}))
        publisher.camera_status("gate", True)
        seen: dict[str, list[bytes]] = {}
        async with asyncio.timeout(10):
            async for message in sub.messages:
                seen.setdefault(str(message.topic), []).append(bytes(message.payload))  # type: ignore[arg-type]
                if f"{prefix}/gate/status" in seen and f"{prefix}/events" in seen:
                    break
    assert json.loads(seen[f"{prefix}/gate/events"][0]) == NOW_EVENT
    assert json.loads(seen[f"{prefix}/events"][0])["id"] == 8
    assert seen[f"{prefix}/gate/status"] == [b"online"]

    # a subscriber arriving later still learns the status and that the kernel is up (retained)
    late = await _collect(mqtt_port, f"{prefix}/+/status", 1)
    assert (str(late[0].topic), late[0].payload, late[0].retain) == (
        f"{prefix}/gate/status",
        b"online",
        True,
    )
    [kernel] = await _collect(mqtt_port, f"{prefix}/status", 1)
    assert kernel.payload == b"online"
    assert publisher.connected and publisher.published_total == 3


async def test_a_clean_stop_marks_cameras_and_the_kernel_offline(
    mqtt_port: int,  # noqa: F811
    prefix: str,
) -> None:
    mqtt = MqttPublisher(Broker.parse(f"mqtt://127.0.0.1:{mqtt_port}"), prefix, SystemClock())
    mqtt.camera_status("yard", True)
    task = asyncio.create_task(mqtt.run())
    try:
        [online] = await _collect(mqtt_port, f"{prefix}/yard/status", 1)
        assert online.payload == b"online"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [yard] = await _collect(mqtt_port, f"{prefix}/yard/status", 1)
    [kernel] = await _collect(mqtt_port, f"{prefix}/status", 1)
    assert (yard.payload, kernel.payload) == (b"offline", b"offline")
    await _clear(mqtt_port, prefix, ["yard"])


async def test_an_unreachable_broker_is_retried_with_backoff_and_no_password_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeClock()
    mqtt = MqttPublisher(
        Broker.parse(f"mqtt://heldar:Sup3r-s3cret@127.0.0.1:{port}"), "heldartest", clock
    )
    mqtt.event(Event.model_validate(NOW_EVENT))
    task = asyncio.create_task(mqtt.run())
    try:
        async with asyncio.timeout(10):
            while len(clock.sleeps) < 2:
                await asyncio.sleep(0.01)
                if clock.sleeps and len(clock.sleeps) < 2:
                    clock.advance(clock.sleeps[-1])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert clock.sleeps[:2] == [1.0, 2.0]
    assert not mqtt.connected
    assert "unavailable" in caplog.text and "Sup3r-s3cret" not in caplog.text


def test_bad_urls_refuse_to_start() -> None:
    for url in ("http://broker", "mqtt://", "mqtt://host:notaport"):
        with pytest.raises(ConfigurationError):
            Broker.parse(url)
    broker = Broker.parse("mqtts://u%40x:p%3Aw@broker.example")
    assert (broker.host, broker.port, broker.username, broker.password, broker.tls) == (
        "broker.example",
        8883,
        "u@x",
        "p:w",
        True,
    )


async def test_the_kernel_publishes_what_it_logs_and_camera_availability(
    tmp_path: Path,
    mqtt_port: int,  # noqa: F811
    prefix: str,
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        recording_enabled=False,
        ai_sampling_enabled=False,
        min_free_disk_gb=0,
        mqtt_url=SecretStr(f"mqtt://127.0.0.1:{mqtt_port}"),
        mqtt_topic_prefix=prefix,
        bootstrap_admin_user=ADMIN_USER,
        bootstrap_admin_password=ADMIN_PASSWORD,
        **FAST_HASHING,
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            kernel = app.state.kernel
            assert "mqtt" in kernel.supervisor.running
            await kernel.cameras.create(
                CameraCreate(id="gate", name="Gate", main_stream_url="rtsp://10.0.0.5/main")
            )
            async with aiomqtt.Client("127.0.0.1", mqtt_port) as sub:
                await sub.subscribe(f"{prefix}/gate/#", qos=1)
                event_id = await kernel.events.append(
                    "camera_offline", camera_id="gate", severity="warning"
                )
                seen: dict[str, bytes] = {}
                async with asyncio.timeout(10):
                    async for message in sub.messages:
                        seen[str(message.topic)] = bytes(message.payload)  # type: ignore[arg-type]
                        if len(seen) == 2:
                            break
            assert json.loads(seen[f"{prefix}/gate/events"])["id"] == event_id
            assert seen[f"{prefix}/gate/status"] == b"offline"  # recording is off on this node
    finally:
        await _clear(mqtt_port, prefix, ["gate"])
