"""The route table: the path the core is given is percent-encoded, as on the wire;
literal segments match however they were encoded, parameters decode exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from ssea_core.errors import NotFoundError
from ssea_core.routing import Router


async def _noop(ctx: Any) -> Any:
    return None


ROUTER = Router()
ROUTER.add("GET", "/v1/tenants/{tenant_id}/users/{user_id}", _noop, auth=("public",))
ROUTER.add("GET", "/v1/files/{key:path}", _noop, auth=("public",))


@pytest.mark.parametrize(
    ("path", "user_id"),
    [
        ("/v1/tenants/t/users/u1", "u1"),
        ("/v1/tenants/t/users/50%2541", "50%41"),  # not "50A"
        ("/v1/tenants/t/users/ana%20mar%C3%ADa", "ana maría"),
        ("/v1/tenants/t/users/a%2Fb", "a/b"),  # an encoded slash stays in its segment
        ("/v1/tenants/t/users/100%", "100%"),  # a lone % is kept as sent
        ("/v1/tenants/t/%75sers/u1", "u1"),  # a literal segment, encoded
    ],
)
def test_a_parameter_is_decoded_once(path: str, user_id: str) -> None:
    assert ROUTER.match("GET", path).params == {"tenant_id": "t", "user_id": user_id}


def test_a_path_parameter_spans_segments_and_keeps_encoded_slashes() -> None:
    found = ROUTER.match("GET", "/v1/files/a/b%2Fc/d%2520e")

    assert found.params == {"key": "a/b/c/d%20e"}


def test_a_decoded_slash_does_not_make_a_new_segment() -> None:
    with pytest.raises(NotFoundError):
        ROUTER.match("GET", "/v1/tenants/t/users/a/b")
    assert ROUTER.methods_for("/v1/tenants/t%2Fx/users/u1") == ["GET", "HEAD"]


@pytest.mark.parametrize(
    "path", ["/v1/tenants/t/users/a%00b", "/v1/tenants/t/users/a\ud800"]
)
def test_a_parameter_that_names_nothing_storable_matches_no_route(path: str) -> None:
    with pytest.raises(NotFoundError):
        ROUTER.match("GET", path)
    with pytest.raises(NotFoundError):
        ROUTER.match("POST", path)  # not a 405: there is no such resource
    assert ROUTER.methods_for(path) == []  # so a preflight is refused like a GET
