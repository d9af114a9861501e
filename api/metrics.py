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
        self.prompt_tokens = Counter("foldrag_prompt_tokens_total", "Prompt tokens of answers: 'computed', or "
                                     "'reused' from an attention cache (shared prefix, cached chunks).", ["kind"],
                                     registry=self.registry)
        self.kv_cache = Gauge("foldrag_kv_cache", "The answering model's chunk cache: entries, bytes, limit_bytes, "
                              "hits, misses, damaged (reads since start).", ["figure"], registry=self.registry)
        self.kv_hit_ratio = Gauge("foldrag_kv_cache_hit_ratio", "Chunk cache reads that found the chunk, since start.",
                                  registry=self.registry)
        self.cancelled = Counter("foldrag_generations_cancelled_total", "Generations stopped because the client left.",
                                 registry=self.registry)

    def observe_answer(self, timings: dict[str, float], completion_tokens: int) -> None:
        for stage in ("retrieve", "first_token", "generate"):
            if f"{stage}_s" in timings:
                self.stage.labels(stage).observe(timings[f"{stage}_s"])
        if timings.get("tokens_per_s"):
            self.tokens_per_second.observe(timings["tokens_per_s"])
        self.generated_tokens.inc(completion_tokens)
        self.prompt_tokens.labels("computed").inc(timings.get("prompt_computed_tokens", 0.0))
        self.prompt_tokens.labels("reused").inc(timings.get("prompt_reused_tokens", 0.0))

    def render(self, gate, cache: dict[str, float] | None = None) -> bytes:
        """The metrics text; ``cache`` is the answering model's ``cache_stats()`` (when loaded)."""
        self.queue_depth.set(gate.waiting)
        self.running.set(gate.running)
        for figure, value in (cache or {}).items():
            self.kv_cache.labels(figure).set(value)
        if cache:
            reads = cache.get("hits", 0) + cache.get("misses", 0)
            self.kv_hit_ratio.set(cache.get("hits", 0) / reads if reads else 0.0)
        return generate_latest(self.registry)
