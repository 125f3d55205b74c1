"""Fixtures for the pipelines' tests: tiny real argostranslate packages and a guard against network access."""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipelines.tiny_argos import build_tiny_argosmodel

#: The packages built once per session: German → xx directly, and German → English → xx as a pivot route.
TINY_PAIRS = (("de", "xx"), ("de", "en"), ("en", "xx"))


@pytest.fixture(scope="session")
def tiny_argosmodels(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """``.argosmodel`` files by (from, to) language pair (see :mod:`tests.pipelines.tiny_argos`)."""
    out = tmp_path_factory.mktemp("argosmodels")
    return {pair: build_tiny_argosmodel(out, *pair, seed=i) for i, pair in enumerate(TINY_PAIRS)}


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:  # AF_UNIX paths are local by definition
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make every attempt to reach the network fail, and record it.

    Yields the list of attempts; a test asserts it is empty at the end, because some callers (argostranslate's
    ``update_package_index``) swallow the error they get. Haystack's telemetry counts too
    (``pipelines.offline`` switches it off): a pipeline run must not reach PostHog either.
    """
    from argostranslate import networking, package

    attempts: list[str] = []

    def refuse(what: str):  # type: ignore[no-untyped-def]
        def blocked(*args: object, **kwargs: object) -> None:
            attempts.append(f"{what}{args!r}")
            raise OSError(f"network access in a test: {what}")
        return blocked

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            refuse("socket.connect")(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _is_loopback(address):
            refuse("socket.connect_ex")(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if host not in (None, "localhost") and not _is_loopback((host,)):
            refuse("socket.getaddrinfo")(host)
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urllib.request.urlopen"))
    monkeypatch.setattr(package, "update_package_index", refuse("argostranslate update_package_index"))
    monkeypatch.setattr(package.AvailablePackage, "download", refuse("argostranslate download"))
    monkeypatch.setattr(networking, "get_from", refuse("argostranslate networking.get_from"))
    yield attempts
