"""A worker process for crash tests: one worker thread with a ``BlockingEngine`` (model
"blocking") on the SQLite database under the given home, a 1 s lease; runs until killed.

Usage: ``python crash_worker.py HOME``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for testing_engines

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from testing_engines import BlockingEngine


def main() -> None:
    settings = Settings(home=Path(sys.argv[1]), workers=1, lease_seconds=1.0, poll_seconds=0.05)
    container = Container.build(settings, [BlockingEngine()], Metrics(lambda: 0))
    container.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
