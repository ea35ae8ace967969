"""Shared setup for engine tests.

Makes ``tests/engines/contract.py`` importable as ``contract`` from any test module below this
folder, whatever pytest's import mode, so an engine's tests can write::

    from contract import EngineContract
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
