"""Real-browser tests: Chromium from the distribution (never a Playwright download), the ASGI app in a thread.

Chromium is looked up at /usr/bin/chromium. If it is missing and we are root with apt-get,
the set-up installs the Debian package; otherwise every e2e test is skipped with the reason.
The web app runs under uvicorn in this process (HTTP and websockets, static files served),
so it shares the test database; the ledger is a real one-node network.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

# Playwright's sync API keeps an event loop in the test thread; the ORM calls in fixtures are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "e2e"


KOREAN_FONT_DIR = Path("/usr/share/fonts/truetype/nanum")


def ensure_korean_font() -> None:
    """Install Debian's fonts-nanum when missing and we can: without a Hangul font, screenshots show boxes.

    Best effort: the tests do not depend on glyphs, only the screenshots in docs/ do.
    """
    if KOREAN_FONT_DIR.exists() or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "fonts-nanum"], env=env,
                   capture_output=True, text=True, timeout=600, check=False)


def ensure_chromium() -> str | None:
    """Return why Chromium is unavailable, or None once /usr/bin/chromium exists (installing it if we can)."""
    if CHROMIUM.exists():
        ensure_korean_font()
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing; install the distribution's chromium package (apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            return f"could not install chromium with {' '.join(command)}: {result.stderr[-500:]}"
    ensure_korean_font()
    return None if CHROMIUM.exists() else f"apt-get installed chromium but {CHROMIUM} is still missing"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = ensure_chromium()
    if reason:
        pytest.skip(reason)
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (requirements-dev.txt)")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Module-scoped on purpose: Playwright's sync API keeps an event loop in this thread while it runs,
    which would break async_to_sync in every later test of the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build_test_app() -> Any:
    """config.asgi's application, plus static files for plain HTTP (tests run with DEBUG off)."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from config import asgi

    static = ASGIStaticFilesHandler(asgi.django_asgi_app)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await static(scope, receive, send)
        else:
            await asgi.application(scope, receive, send)

    return app


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """The whole web app (HTTP + websockets) under uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_test_app(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# --- a real one-node ledger and the gateway over it (test_kiosk uses a 4-node network instead) ---


@pytest.fixture(scope="module")
def ledger_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real node process per test module (modules must not see each other's chain)."""
    from tests.voting.ledger_node import start_ledger_node

    node = start_ledger_node(tmp_path_factory.mktemp("e2e-ledger"))
    yield node
    node.stop()


@pytest.fixture
def gateway(ledger_node: Any) -> Iterator[Any]:
    """The production gateway (NodeClient transport, the localnet's authority key) installed for a test."""
    from ledger.client import NodeClient
    from ledger.core.crypto import PrivateKey
    from voting.ledger_gateway import LedgerGateway, NodeClientTransport, set_gateway

    key = PrivateKey.from_pem(ledger_node.authority_key_file.read_bytes())
    gateway = LedgerGateway(NodeClientTransport(NodeClient([ledger_node.url], timeout_s=5)), key, timeout_s=20)
    set_gateway(gateway)
    yield gateway
    set_gateway(None)

