"""The CSRF rule for cookie sessions: custom header and same origin, or refused."""

from __future__ import annotations

import pytest

from heldar.auth.csrf import csrf_problem

OK = {"host": "nvr.local:8000", "origin": "http://nvr.local:8000", "x-requested-with": "fetch"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_pass_without_anything(method: str) -> None:
    assert csrf_problem(method=method, headers={}) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_same_origin_request_with_the_header_passes(method: str) -> None:
    assert csrf_problem(method=method, headers=OK) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"x-requested-with": None}, "X-Requested-With"),
        ({"x-requested-with": "  "}, "X-Requested-With"),
        ({"origin": None}, "Origin"),
        ({"origin": "http://evil.example"}, "cross-origin"),
        ({"origin": "http://nvr.local:8001"}, "cross-origin"),
        ({"origin": "null"}, "cross-origin"),
        ({"origin": "http://nvr.local:8000.evil.example"}, "cross-origin"),
        ({"origin": None, "referer": "http://evil.example/page"}, "cross-origin"),
    ],
)
def test_cross_site_shapes_are_refused(change: dict[str, str | None], reason: str) -> None:
    headers = {k: v for k, v in (OK | change).items() if v is not None}
    problem = csrf_problem(method="POST", headers=headers)
    assert problem is not None and reason in problem


def test_referer_stands_in_for_a_missing_origin_and_trusted_origins_pass() -> None:
    same = {k: v for k, v in OK.items() if k != "origin"} | {"referer": "http://nvr.local:8000/ui"}
    assert csrf_problem(method="POST", headers=same) is None
    proxied = OK | {"origin": "https://nvr.example.com"}
    assert csrf_problem(method="POST", headers=proxied) is not None
    assert (
        csrf_problem(method="POST", headers=proxied, trusted_origins=["https://nvr.example.com/"])
        is None
    )
