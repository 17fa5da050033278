"""Stream URL validation, credential splitting and masking (SECURITY.md class 1 and 4).

A stream URL reaches ffmpeg, which will happily open `file:`, `concat:`, `pipe:` or treat a string
starting with `-` as an option. So a URL is accepted only after parsing: an allowed scheme, a valid
host and port, no whitespace, control or non-ASCII characters. Credentials never live in a stored
URL: they are split off into their own fields and spliced back, percent-encoded, at spawn time.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from heldar.errors import InvalidStreamUrl

ALLOWED_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
MAX_URL_LENGTH = 2048
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_MASK = "***"


@dataclass(frozen=True)
class StreamUrl:
    """A validated stream URL without credentials, and the credentials it carried (if any)."""

    url: str
    username: str | None = None
    password: str | None = None


def validate_host(host: str, *, field: str = "address") -> str:
    """Return `host` if it is a DNS name or an IP literal, else raise `InvalidStreamUrl`."""
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    if _HOSTNAME.match(host) and not host.replace(".", "").isdigit():
        return host.lower()
    raise InvalidStreamUrl(f"{field}: not a host name or IP address", code="invalid_host")


def host_for_url(host: str) -> str:
    """`host` as it appears in a URL authority (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


def validate_stream_url(raw: str, *, field: str = "stream_url") -> StreamUrl:
    """Parse and check a stream URL; raise `InvalidStreamUrl` with a reason otherwise."""
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidStreamUrl(f"{field}: longer than {MAX_URL_LENGTH} characters")
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in raw):
        raise InvalidStreamUrl(
            f"{field}: whitespace, control and non-ASCII characters are not allowed "
            "(percent-encode them)",
            code="invalid_url_characters",
        )
    if raw.startswith("-"):
        raise InvalidStreamUrl(f"{field}: must not start with '-'", code="invalid_url_characters")
    if "\\" in raw:
        raise InvalidStreamUrl(
            f"{field}: backslashes are not allowed", code="invalid_url_characters"
        )
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        allowed = ", ".join(sorted(ALLOWED_SCHEMES))
        raise InvalidStreamUrl(
            f"{field}: scheme {scheme or '(none)'!r} is not allowed; use one of {allowed}",
            code="invalid_url_scheme",
        )
    if not parts.netloc or parts.hostname is None:
        raise InvalidStreamUrl(f"{field}: no host", code="invalid_host")
    if parts.fragment:
        raise InvalidStreamUrl(f"{field}: fragments ('#') are not allowed")
    host = validate_host(parts.hostname, field=field)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise InvalidStreamUrl(f"{field}: port must be 1..65535", code="invalid_url_port")
    # urlsplit accepts "host:" (empty port); ffmpeg would guess — be explicit.
    if parts.netloc.rsplit("@", 1)[-1].endswith(":"):
        raise InvalidStreamUrl(f"{field}: empty port", code="invalid_url_port")
    authority = host_for_url(host) + (f":{port}" if port is not None else "")
    clean = urlunsplit((scheme, authority, parts.path, parts.query, ""))
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return StreamUrl(url=clean, username=username, password=password)


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Splice percent-encoded credentials into a credential-free URL (spawn time only)."""
    if not username and not password:
        return url
    parts = urlsplit(url)
    userinfo = quote(username or "", safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, ""))


def mask_url(url: str, *, has_credentials: bool) -> str:
    """The URL as shown to people: `rtsp://***@host:554/path` when credentials are configured."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if has_credentials:
        netloc = f"{_MASK}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
