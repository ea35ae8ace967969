"""Live servers for tests: uvicorn in a thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from pixelforge.api.app import create_app
from pixelforge.api.container import Container
from pixelforge.config import Settings
from pixelforge.engines.base import Engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def container(self) -> Container:
        app: Any = self.server.config.app
        container: Container = app.state.container
        return container

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


StartServer = Callable[..., LiveServer]


def run_in_thread(
    app: Any, port: int, name: str, lifespan: str = "on"
) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve an ASGI app on 127.0.0.1:``port`` in a daemon thread; returns once it listens."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan=lifespan,
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True, name=f"{name}-{port}")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.02)
    return server, thread


@contextmanager
def serving(app: Any, name: str, port: int | None = None) -> Iterator[str]:
    """A fake service (no lifespan) for the duration of the block; yields its base URL."""
    port = port or free_port()
    server, thread = run_in_thread(app, port, name, lifespan="off")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def start_server(
    home: Path, engines: Sequence[Engine] | None = None, **settings: Any
) -> LiveServer:
    config_settings = Settings(home=home, **settings)
    app = create_app(config_settings, engines)
    port = free_port()
    server, thread = run_in_thread(app, port, "pixelforge-test-server")
    return LiveServer(f"http://127.0.0.1:{port}", config_settings, server, thread)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers (each with its own PIXELFORGE_HOME unless given); all stop at teardown."""
    started: list[LiveServer] = []

    def start(
        engines: Sequence[Engine] | None = None, home: Path | None = None, **settings: Any
    ) -> LiveServer:
        live = start_server(home or tmp_path / f"home{len(started)}", engines, **settings)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture
def server(make_server: StartServer) -> LiveServer:
    """A server with the default engines (compose) on SQLite."""
    return make_server()
