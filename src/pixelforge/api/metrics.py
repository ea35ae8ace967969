"""Prometheus metrics on a per-app registry (no global state)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pixelforge_http_requests", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "pixelforge_http_request_seconds", "HTTP request latency", ["route"],
            registry=self.registry,
        )  # fmt: skip
        self.job_seconds = Histogram(
            "pixelforge_job_seconds", "Job run time by model", ["model"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )  # fmt: skip
        self.jobs = Counter(
            "pixelforge_jobs", "Finished jobs by model and status", ["model", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.failures = Counter(
            "pixelforge_job_failures", "Failed jobs by model", ["model"], registry=self.registry
        )
        depth = Gauge("pixelforge_queue_depth", "Queued jobs", registry=self.registry)
        depth.set_function(lambda: float(queue_depth()))

    def job_finished(self, model: str, status: str, seconds: float) -> None:
        self.jobs.labels(model, status).inc()
        self.job_seconds.labels(model).observe(seconds)
        if status == "failed":
            self.failures.labels(model).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
