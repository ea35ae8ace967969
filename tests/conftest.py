"""Shared setup for all tests: makes ``tests/`` importable (``from pg import ...``) and provides
the session-scoped ``postgres_server`` fixture (a real, throwaway PostgreSQL on loopback), and
``make_server`` / ``server`` (real Pixelforge servers on free loopback ports)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from pg import postgres_server  # noqa: E402, F401
from server_support import make_server, server  # noqa: E402, F401
