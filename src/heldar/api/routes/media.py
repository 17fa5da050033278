"""`/media/recordings|clips|snapshots/{camera_id}/{file}` and `/media/playback/{sid}.m3u8`:
files, with HTTP Range, behind the same auth and camera scope as the API — never a static
mount (SECURITY.md classes 2 and 3).

The client names a camera id and a file name; both must match strict patterns, the path is built
from the data directory, resolved (symlinks included) and must stay under `recordings/<camera>/`.
Anything else is the same 404, so probing reveals nothing.
"""

from __future__ import annotations

import re
from pathlib import Path as PathType
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, Response

from heldar.api.deps import KernelDep, VideoExport, VideoPlayback
from heldar.app import Kernel
from heldar.auth.models import Principal
from heldar.cameras.models import CAMERA_ID_PATTERN
from heldar.errors import NotFound

router = APIRouter(prefix="/media", tags=["media"])

CAMERA_ID = re.compile(CAMERA_ID_PATTERN)
CLIP_FILE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}_\d{8}T\d{6}Z_[0-9a-f]{16}\.mp4$")
PLAYLIST_FILE = re.compile(r"^([A-Za-z0-9_-]{16,64})\.m3u8$")
SEGMENT_FILE = re.compile(r"^\d{8}_\d{6}(?:-[0-9a-f]{1,16})?\.mp4$")
# scheduled snapshots; zone evidence named by batch (b) or, before, by zone event (z)
SNAPSHOT_FILE = re.compile(r"^\d{8}_\d{6}_[zb]?\d{1,19}\.jpg$")


def _file_under(root: PathType, name: str) -> PathType | None:
    """`root/name` resolved (symlinks included) if it is a regular file directly in `root`."""
    base = root.resolve()
    path = (base / name).resolve()
    if path.parent != base or not path.is_file():
        return None
    return path


def _camera_file(
    kernel: Kernel, principal: Principal, name: str, root: str, pattern: re.Pattern[str], what: str
) -> tuple[PathType, str]:
    """(path, file name) of `<data>/<root>/<camera>/<file>`, named by `name` =
    `<camera>/<file>`; the same 404 for every bad name (encoded dots, slashes, backslashes,
    absolute paths) and for a camera outside the caller's scope."""
    missing = NotFound(f"no such {what}", code="not_found")
    camera_id, _, filename = name.partition("/")
    if not CAMERA_ID.match(camera_id) or not pattern.match(filename):
        raise missing
    if not principal.sees_camera(camera_id):
        raise missing
    path = _file_under(kernel.settings.data_dir / root / camera_id, filename)
    if path is None:
        raise missing
    return path, filename


@router.get("/recordings/{name:path}")
async def recording_file(
    name: Annotated[str, Path(max_length=512, description="`<camera_id>/<segment file>`")],
    kernel: KernelDep,
    principal: VideoPlayback,
) -> FileResponse:
    path, filename = _camera_file(kernel, principal, name, "recordings", SEGMENT_FILE, "recording")
    return FileResponse(
        path,
        media_type="video/mp4",
        filename=filename,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/clips/{name:path}")
async def clip_file(
    name: Annotated[str, Path(max_length=512, description="`<camera_id>/<clip file>`")],
    kernel: KernelDep,
    principal: VideoExport,
) -> FileResponse:
    path, filename = _camera_file(kernel, principal, name, "clips", CLIP_FILE, "clip")
    # The download name is the server's own file name: never anything a client supplied.
    return FileResponse(path, media_type="video/mp4", filename=filename)


@router.get("/snapshots/{name:path}")
async def snapshot_file(
    name: Annotated[str, Path(max_length=512, description="`<camera_id>/<still file>`")],
    kernel: KernelDep,
    principal: VideoPlayback,
) -> FileResponse:
    path, filename = _camera_file(kernel, principal, name, "snapshots", SNAPSHOT_FILE, "snapshot")
    return FileResponse(
        path,
        media_type="image/jpeg",
        filename=filename,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/playback/{name:path}")
async def playlist(
    name: Annotated[str, Path(max_length=128, description="`<session id>.m3u8`")],
    kernel: KernelDep,
    principal: VideoPlayback,
) -> Response:
    match = PLAYLIST_FILE.match(name)
    if match is None:
        raise NotFound("no such playback session", code="session_not_found")
    camera_id, text = kernel.playback.session(match.group(1))
    if not principal.sees_camera(camera_id):
        raise NotFound("no such playback session", code="session_not_found")
    return Response(text, media_type="application/vnd.apple.mpegurl")
