"""Basic and Digest checks against RFC 2617's own example and against near misses."""

from __future__ import annotations

import base64
import hashlib

import pytest

from heldar.simcam.auth import Authenticator, parse_auth_params


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_header(
    auth: Authenticator, user: str, password: str, method: str, uri: str, **extra: str
) -> str:
    ha1 = md5(f"{user}:{auth.realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{auth.nonce}:{ha2}")
    params = {"username": user, "realm": auth.realm, "nonce": auth.nonce, "uri": uri}
    params |= {"response": response, **extra}
    return "Digest " + ", ".join(f'{k}="{v}"' for k, v in params.items())


def test_rfc2617_example_with_qop() -> None:
    auth = Authenticator("Mufasa", "Circle Of Life", realm="testrealm@host.com")
    auth.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    header = (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
        'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert auth.check("GET", header)
    assert not auth.check("POST", header)


def test_digest_without_qop() -> None:
    auth = Authenticator("admin", "s3cret:p@ss/word")
    uri = "rtsp://127.0.0.1:8554/cam1"
    assert auth.check("DESCRIBE", digest_header(auth, "admin", "s3cret:p@ss/word", "DESCRIBE", uri))
    assert not auth.check("DESCRIBE", digest_header(auth, "admin", "wrong", "DESCRIBE", uri))
    assert not auth.check(
        "DESCRIBE", digest_header(auth, "root", "s3cret:p@ss/word", "DESCRIBE", uri)
    )
    stale = Authenticator("admin", "s3cret:p@ss/word")
    assert not stale.check(
        "DESCRIBE", digest_header(auth, "admin", "s3cret:p@ss/word", "DESCRIBE", uri)
    )


def test_digest_rejects_other_algorithms_and_missing_fields() -> None:
    auth = Authenticator("admin", "pw")
    good = digest_header(auth, "admin", "pw", "PLAY", "/cam1")
    assert not auth.check("PLAY", good + ', algorithm="SHA-256"')
    assert not auth.check("PLAY", good.replace("username=", "user="))
    assert not auth.check("PLAY", good + ', qop="auth-int", nc=1, cnonce="x"')


@pytest.mark.parametrize(
    ("credentials", "ok"),
    [
        (b"admin:s3cret:p@ss/word", True),
        (b"admin:s3cret:p@ss/wor", False),
        (b"admin:", False),
        (b"admin", False),
        (b"Admin:s3cret:p@ss/word", False),
    ],
)
def test_basic(credentials: bytes, ok: bool) -> None:
    auth = Authenticator("admin", "s3cret:p@ss/word")
    assert auth.check("OPTIONS", "Basic " + base64.b64encode(credentials).decode()) is ok


@pytest.mark.parametrize("header", [None, "", "Basic", "Basic !!!", "Bearer x", "Digest"])
def test_garbage_is_refused(header: str | None) -> None:
    assert not Authenticator("admin", "pw").check("OPTIONS", header)


def test_challenge_offers_digest_then_basic_and_hides_the_password() -> None:
    auth = Authenticator("admin", "hunter2")
    values = [value for name, value in auth.challenge_headers() if name == "WWW-Authenticate"]
    assert values[0].startswith("Digest ")
    assert parse_auth_params(values[0]["Digest ".__len__() :]) == {
        "realm": auth.realm,
        "nonce": auth.nonce,
    }
    assert values[1] == f'Basic realm="{auth.realm}"'
    assert "hunter2" not in repr(auth)
