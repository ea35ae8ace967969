"""Running jobs: the embedded worker pool (later: Celery wake-ups for remote GPU workers)."""
