"""Who the client is: forwarding headers count only from proxies an operator trusts (WEGWEISER_TRUSTED_PROXIES)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.clients import parse_networks, resolve_client
from api.main import create_app
from pipelines.settings import Settings
from tests.conftest import make_settings

PROXY = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(("peer", "forwarded_for", "trusted", "client"), [
    # nothing trusted (the default): the header is ignored, whoever sends it
    ("127.0.0.1", "198.51.100.7", (), "127.0.0.1"),
    ("203.0.113.9", "198.51.100.7", PROXY, "203.0.113.9"),  # not from a trusted proxy
    ("127.0.0.1", "198.51.100.7", PROXY, "198.51.100.7"),
    # a client's own entry on the left does not count: the proxy appended the address it saw
    ("127.0.0.1", "1.2.3.4, 198.51.100.7", PROXY, "198.51.100.7"),
    ("127.0.0.1", "198.51.100.7, 10.1.2.3", PROXY, "198.51.100.7"),  # two trusted proxies in a row
    ("127.0.0.1", "10.1.2.3", PROXY, "10.1.2.3"),  # every hop trusted: the first is the client
    ("127.0.0.1", "not-an-address", PROXY, "127.0.0.1"),
    ("127.0.0.1", "", PROXY, "127.0.0.1"),
    ("127.0.0.1", "[2001:db8::1]", PROXY, "2001:db8::1"),
])
def test_client_is_resolved_from_trusted_proxies_only(peer: str, forwarded_for: str, trusted: tuple,
                                                       client: str) -> None:
    assert resolve_client(peer, forwarded_for, trusted) == client


def test_trusted_proxies_must_be_addresses_or_networks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert make_settings(tmp_path, trusted_proxies=[" 10.0.0.0/8", "::1"]).trusted_proxies == ["10.0.0.0/8", "::1"]
    with pytest.raises(ValidationError, match="proxy.example"):
        make_settings(tmp_path, trusted_proxies=["proxy.example"])


def _rate_limited(settings: Settings, peer: str, forwarded: list[str]) -> list[int]:
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    with TestClient(app, client=(peer, 40000)) as browser:
        return [browser.get("/api/languages", headers={"X-Forwarded-For": address}).status_code
                for address in forwarded]


def test_a_new_forwarded_for_address_per_request_does_not_get_a_new_rate_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    forged = [f"198.51.100.{i}" for i in range(1, 8)]
    statuses = _rate_limited(make_settings(tmp_path), "127.0.0.1", forged)
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}


def test_behind_a_trusted_proxy_each_visitor_has_their_own_rate_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, trusted_proxies=["127.0.0.1"])
    visitors = [f"198.51.100.{i}" for i in range(1, 8)]
    assert _rate_limited(settings, "127.0.0.1", visitors) == [200] * 7
    assert _rate_limited(settings, "127.0.0.1", ["198.51.100.1"] * 5)[3:] == [429, 429]
