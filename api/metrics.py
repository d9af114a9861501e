"""Prometheus metrics of one app, in a registry of its own (two apps in one process never clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("foldrag_requests_total", "HTTP requests by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("foldrag_request_seconds", "Time to the response head, by route "
                                 "(for streams: until streaming starts).", ["method", "route"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.stage = Histogram("foldrag_stage_seconds", "Time per answering stage: retrieve, first_token, generate.",
                               ["stage"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.tokens_per_second = Histogram("foldrag_generation_tokens_per_second", "Decode speed per answer.",
                                           buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=self.registry)
        self.generated_tokens = Counter("foldrag_generated_tokens_total", "Tokens generated.", registry=self.registry)
        self.queue_depth = Gauge("foldrag_generation_queue_depth", "Requests waiting for a generation slot.",
                                 registry=self.registry)
        self.running = Gauge("foldrag_generations_running", "Generations running now.", registry=self.registry)
        self.cancelled = Counter("foldrag_generations_cancelled_total", "Generations stopped because the client left.",
                                 registry=self.registry)

    def observe_answer(self, timings: dict[str, float], completion_tokens: int) -> None:
        for stage in ("retrieve", "first_token", "generate"):
            if f"{stage}_s" in timings:
                self.stage.labels(stage).observe(timings[f"{stage}_s"])
        if timings.get("tokens_per_s"):
            self.tokens_per_second.observe(timings["tokens_per_s"])
        self.generated_tokens.inc(completion_tokens)

    def render(self, gate) -> bytes:
        self.queue_depth.set(gate.waiting)
        self.running.set(gate.running)
        return generate_latest(self.registry)
