"""RTSP URL templates of the camera vendors we know; `onvif` and `generic` need explicit URLs."""

from __future__ import annotations

from typing import Literal

from heldar.cameras.urls import host_for_url

Vendor = Literal["hikvision", "dahua", "axis", "reolink", "onvif", "generic"]
StreamProfile = Literal["main", "sub"]

# vendor -> (main path, sub path or None when the vendor has no standard sub stream path)
_TEMPLATES: dict[str, tuple[str, str | None]] = {
    "hikvision": ("/Streaming/Channels/101", "/Streaming/Channels/102"),
    "dahua": ("/cam/realmonitor?channel=1&subtype=0", "/cam/realmonitor?channel=1&subtype=1"),
    "axis": ("/axis-media/media.amp", None),
    "reolink": ("/h264Preview_01_main", "/h264Preview_01_sub"),
}


def has_template(vendor: str) -> bool:
    return vendor in _TEMPLATES


def template_url(vendor: str, address: str, port: int, profile: StreamProfile) -> str | None:
    """The credential-free RTSP URL of `profile` for a vendor with a template, else None."""
    paths = _TEMPLATES.get(vendor)
    if paths is None:
        return None
    path = paths[0] if profile == "main" else paths[1]
    if path is None:
        return None
    return f"rtsp://{host_for_url(address)}:{port}{path}"
