"""Browser-test fixtures: the real app on a real index behind a real uvicorn server, driven by Chromium.

One server and one browser (Debian's chromium) per session; a fresh browser context (no shared cookies,
storage or cache) per test.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from api.main import create_app
from pipelines.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Loading the models and the index takes a while on a small machine; answers then take well under a second.
READY_TIMEOUT_S = 240
UI_TIMEOUT_MS = 20_000


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.fixture(scope="session")
def portal_socket() -> Iterator[socket.socket]:
    """The socket of a stand-in "Neu in Jena" portal on another loopback origin (see ``portal``). It is bound
    before the app starts so that the app's CORS allow-list can name the portal's origin, as an operator would."""
    sock = _free_socket()
    yield sock
    sock.close()


@pytest.fixture(scope="session")
def live_server(ingested_settings: Settings, portal_socket: socket.socket) -> Iterator[str]:
    """The base URL of the real app served by uvicorn on 127.0.0.1 (a free port), once the index is ready."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    portal_origin = f"http://127.0.0.1:{portal_socket.getsockname()[1]}"
    settings = ingested_settings.model_copy(update={"cors_origins": [*ingested_settings.cors_origins, portal_origin]})
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="browser-test-server",
                              daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while _status(f"{base}/readyz") != 200:
            if not thread.is_alive():
                pytest.fail("the test server stopped while starting (is the store held by another process?)")
            if time.monotonic() > deadline:
                pytest.fail(f"the test server was not ready after {READY_TIMEOUT_S} s: {base}/readyz")
            time.sleep(0.25)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


PORTAL_CSP = ("default-src 'none'; script-src {api}; connect-src {api}; style-src 'self'; img-src 'self'; "
              "base-uri 'none'; object-src 'none'; form-action 'none'; frame-ancestors 'none'")
PORTAL_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Neu in Jena</title>
<script type="module" src="{api}/widget/wegweiser-chat.js"></script></head>
<body><main><h1>Neu in Jena</h1><p>Willkommen in Jena.</p>
<wegweiser-chat api-url="{api}"></wegweiser-chat></main></body></html>
"""


@pytest.fixture(scope="session")
def portal(portal_socket: socket.socket, live_server: str) -> Iterator[str]:
    """The URL of a portal page on its own loopback origin with a strict Content-Security-Policy of its own that
    allows scripts and connections to the Wegweiser server only, embedding the widget as an editor would."""
    page = PORTAL_PAGE.format(api=live_server).encode()
    policy = PORTAL_CSP.format(api=live_server)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", policy)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(portal_socket.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = portal_socket
    portal_socket.listen()
    thread = threading.Thread(target=server.serve_forever, name="portal-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{portal_socket.getsockname()[1]}/"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def catalogs(live_server: str) -> Callable[[str], dict[str, str]]:
    """The widget's message catalog for a language, as the server serves it."""
    cache: dict[str, dict[str, str]] = {}

    def catalog(lang: str) -> dict[str, str]:
        if lang not in cache:
            with urllib.request.urlopen(f"{live_server}/widget/messages/{lang}.json", timeout=10) as response:
                cache[lang] = json.load(response)
        return cache[lang]

    return catalog


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (or `make browser-deps`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser: Browser, live_server: str) -> Iterator[Callable[..., BrowserContext]]:
    """Make a fresh browser context (closed after the test); keyword arguments go to ``new_context``."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options = {"base_url": live_server, "locale": "de-DE", "viewport": {"width": 1280, "height": 900},
                   **options}
        context = browser.new_context(**options)
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any uncaught script error."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught script errors: {errors}"


class Chat:
    """Drives the <wegweiser-chat> widget on a page.

    Playwright's CSS selectors pierce the widget's open shadow root.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.host = page.locator("wegweiser-chat")
        self.container = self.host.locator("[part~=container]")
        self.input = self.host.locator("[part~=input]")
        self.send = self.host.locator("[part~=send-button]")
        self.language = self.host.locator("[part~=language-select]")
        self.simple = self.host.locator("[part~=simple-toggle]")
        self.starters = self.host.locator("[part~=starters] button")
        self.answers = self.host.locator("[part~=answer]")
        self.questions = self.host.locator("[part~=question]")
        self.errors = self.host.locator("[part~=error]")

    def open(self, path: str = "/") -> Chat:
        self.page.goto(path)
        # The labels are filled in once the message catalog has loaded.
        expect(self.send).not_to_have_text("")
        expect(self.language.locator("option")).not_to_have_count(0)
        return self

    def choose_language(self, code: str) -> None:
        self.language.select_option(code)
        expect(self.container).to_have_attribute("lang", code)

    def ask(self, question: str) -> Locator:
        """Type a question, press Enter and wait for its answer; returns the answer."""
        before = self.answers.count()
        self.input.fill(question)
        self.input.press("Enter")
        return self.wait_for_answer(before)

    def wait_for_answer(self, before: int) -> Locator:
        expect(self.answers).to_have_count(before + 1)
        return self.answers.nth(before)

    def shadow_eval(self, script: str) -> Any:
        """Evaluate ``script`` (a function of the shadow root) in the page."""
        return self.page.evaluate(f"() => ({script})(document.querySelector('wegweiser-chat').shadowRoot)")

    def focused_part(self) -> str | None:
        """The `part` (or tag name) of the element focused inside the widget, None if focus is elsewhere."""
        return self.page.evaluate("""() => {
            const host = document.querySelector('wegweiser-chat');
            if (document.activeElement !== host) return null;
            const el = host.shadowRoot.activeElement;
            return el ? (el.getAttribute('part') || el.localName) : null;
        }""")


@pytest.fixture
def chat(page: Page) -> Chat:
    return Chat(page)


@pytest.fixture
def chat_on() -> Callable[[Page], Chat]:
    """A widget driver for a page made by the test itself (other viewport, recorded context, …)."""
    return Chat


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/ (git-ignored): screenshots for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (open shadow roots included)."""
    page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def _format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}"
                     f" ({violation['helpUrl']})")
        for node in violation["nodes"][:10]:
            lines.append(f"    at {node['target']}: {(node['summary'] or '').replace(chr(10), ' ')}")
    return "\n".join(lines)


@pytest.fixture
def check_axe() -> Callable[[Page], None]:
    """Fail with a readable list if axe-core finds serious or critical violations on the page.

    axe is injected as an inline script: the page's context must be made with ``bypass_csp=True``.
    """

    def check(page: Page) -> None:
        violations = _run_axe(page)
        assert not violations, \
            "axe-core found serious/critical violations:\n" + _format_violations(violations)

    return check
