"""The reference inference service: an iris classifier and a tiny text generator behind FastAPI,
instrumented to the platform's contract.

POST /predict {"instances": [[5.1, 3.5, 1.4, 0.2], ...]} answers {"predictions": [...]}; invalid
input gets a 422 naming what is wrong. POST /generate {"prompt": "...", "max_tokens": 16} streams
tokens from a deterministic generator (service/generator.py), one per line: the first after
FIRST_TOKEN_SECONDS, the next every TOKEN_INTERVAL_SECONDS, at most GENERATION_SLOTS streams at
once (the rest wait in the queue), each holding its tokens in a KV cache of KV_CACHE_TOKENS.
POST /feedback {"positive": true} counts a user's verdict. /health (alive) and /ready (model
loaded) are on the same port; the metrics are on their own (service/__main__.py). FAULT_RATE and
EXTRA_LATENCY_SECONDS inject failures and slowness (before the first token, for /generate).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, Field

from service import generator, model, telemetry

log = logging.getLogger("inference")
MAX_INSTANCES = 1000
# One regex (no comma, which would split it), searched in scheme://host/path: anchored to the
# path, so a host named like health-api or already-scored keeps its spans.
PROBES = r"^https?://[^/]+/(health|ready)$"


@dataclass(frozen=True)
class Config:
    model_name: str
    model_version: str
    fault_rate: float  # share of predictions that fail with 503
    extra_latency_seconds: float
    price_per_prediction: float  # USD
    price_per_output_token: float  # USD
    first_token_seconds: float
    token_interval_seconds: float
    generation_slots: int
    kv_cache_tokens: int
    host: str
    http_port: int
    metrics_port: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """The service's settings from its environment; ValueError names every bad variable."""
        problems: list[str] = []

        def number(name: str, default: float, low: float, high: float | None = None) -> float:
            raw = environ.get(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not (value >= low and (high is None or value <= high)):
                problems.append(f"{name}={raw!r}: must be a number from {low:g}" + (f" to {high:g}" if high else ""))
                return default
            return value

        config = cls(
            model_name=environ.get("MODEL_NAME", "iris-classifier"),
            model_version=environ.get("MODEL_VERSION", "1"),
            fault_rate=number("FAULT_RATE", 0, 0, 1),
            extra_latency_seconds=number("EXTRA_LATENCY_SECONDS", 0, 0, 600),
            price_per_prediction=number("PRICE_PER_PREDICTION_USD", 0.0002, 0),
            price_per_output_token=number("PRICE_PER_OUTPUT_TOKEN_USD", 0.000002, 0),
            first_token_seconds=number("FIRST_TOKEN_SECONDS", 0.02, 0, 60),
            token_interval_seconds=number("TOKEN_INTERVAL_SECONDS", 0.01, 0, 10),
            generation_slots=int(number("GENERATION_SLOTS", 4, 1, 1024)),
            kv_cache_tokens=int(number("KV_CACHE_TOKENS", 4096, 1)),
            host=environ.get("HOST", "0.0.0.0"),
            http_port=int(number("HTTP_PORT", 8080, 1, 65535)),
            metrics_port=int(number("METRICS_PORT", 8000, 1, 65535)),
        )
        if problems:
            raise ValueError("bad service settings: " + "; ".join(problems))
        return config


Flower = Annotated[list[float], Field(min_length=4, max_length=4,
                                      description="sepal length, sepal width, petal length, petal width (cm)")]


class PredictRequest(BaseModel):
    instances: Annotated[list[Flower], Field(min_length=1, max_length=MAX_INSTANCES)]


class GenerateRequest(BaseModel):
    prompt: Annotated[str, Field(min_length=1, max_length=8000)]
    max_tokens: Annotated[int, Field(ge=1, le=256)] = 16


class FeedbackRequest(BaseModel):
    positive: bool


class PredictResponse(BaseModel):
    predictions: list[str]
    model: str
    model_version: str


def outcome(status_code: int) -> str:
    """The contract's status of an answered request: a server error is a failure of the service."""
    if status_code >= 500:
        return "error"
    return "rejected" if status_code >= 400 else "success"


def create_app(config: Config, classifier: model.Classifier | None = None,
               environ: Mapping[str, str] = os.environ) -> FastAPI:
    app = FastAPI(title="Reference inference service", version=config.model_version)
    metrics = telemetry.Metrics(config.model_name)
    app.state.metrics = metrics
    app.state.classifier = classifier or model.train()
    provider = app.state.tracer_provider = telemetry.tracer_provider(environ)
    tracer = trace.get_tracer("inference", tracer_provider=provider)

    metrics.quality.labels(config.model_name).set(app.state.classifier.accuracy)
    slots = asyncio.Semaphore(config.generation_slots)
    cache = {"held": 0}  # tokens the running streams hold

    def counted(path: str, status: str, seconds: float) -> None:
        metrics.request(status, seconds)
        log.info(path.strip("/"), extra={"fields": {"model": config.model_name, "status": status,
                                                     "latency_ms": round(seconds * 1000, 1)}})

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Every inference request, whatever happens to it, in the contract's counter and histogram; a
        /generate stream that starts counts itself when it ends."""
        path = request.url.path
        if path not in ("/predict", "/generate"):
            return await call_next(request)
        start, status = time.perf_counter(), "error"
        response = None
        try:
            response = await call_next(request)
            status = outcome(response.status_code)
            return response
        finally:
            if path == "/predict" or response is None or response.status_code >= 300:
                counted(path, status, time.perf_counter() - start)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in error.errors()]
        return JSONResponse(status_code=422, content={
            "error": "invalid input: expected {\"instances\": [[sepal length, sepal width, petal length, "
                     f"petal width], ...]}} with 1 to {MAX_INSTANCES} flowers of 4 numbers",
            "problems": problems})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready")
    async def ready() -> dict[str, object]:
        return {"ready": True, "model": config.model_name, "accuracy": round(app.state.classifier.accuracy, 3)}

    @app.post("/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest) -> PredictResponse:
        if config.extra_latency_seconds:
            await asyncio.sleep(config.extra_latency_seconds)
        if config.fault_rate and random.random() < config.fault_rate:
            raise HTTPException(status_code=503, detail="injected fault (FAULT_RATE)")
        with tracer.start_as_current_span("inference") as span:
            predictions = app.state.classifier.predict(body.instances)
            input_tokens, output_tokens = 4 * len(body.instances), len(predictions)
            span.set_attributes({"ai.model.name": config.model_name, "ai.model.version": config.model_version,
                                 "ai.tokens.input": input_tokens, "ai.tokens.output": output_tokens})
        metrics.usage(input_tokens, output_tokens, config.price_per_prediction * len(predictions))
        return PredictResponse(predictions=predictions, model=config.model_name, model_version=config.model_version)

    @app.post("/generate")
    async def generate(body: GenerateRequest) -> StreamingResponse:
        start = time.perf_counter()
        if config.fault_rate and random.random() < config.fault_rate:
            raise HTTPException(status_code=503, detail="injected fault (FAULT_RATE)")
        prompt, words = generator.prompt_tokens(body.prompt), generator.tokens(body.prompt, body.max_tokens)
        kv_cache = metrics.kv_cache.labels(config.model_name)

        async def stream() -> AsyncIterator[str]:
            status, held = "error", 0
            try:
                queue = metrics.queue.labels(config.model_name)
                queue.inc()
                try:
                    await slots.acquire()
                finally:
                    queue.dec()
                try:
                    held = prompt
                    cache["held"] += prompt
                    await asyncio.sleep(config.first_token_seconds + config.extra_latency_seconds)
                    last = time.perf_counter()
                    metrics.ttft.labels(config.model_name).observe(last - start)
                    for index, word in enumerate(words):
                        if index:
                            await asyncio.sleep(config.token_interval_seconds)
                            now = time.perf_counter()
                            metrics.tpot.labels(config.model_name).observe(now - last)
                            last = now
                        held += 1
                        cache["held"] += 1
                        kv_cache.set(min(1.0, cache["held"] / config.kv_cache_tokens))
                        yield word + "\n"
                    status = "success"
                finally:
                    cache["held"] -= held
                    kv_cache.set(min(1.0, cache["held"] / config.kv_cache_tokens))
                    slots.release()
            finally:
                metrics.usage(prompt, len(words) if status == "success" else 0,
                              config.price_per_output_token * len(words) if status == "success" else 0)
                counted("/generate", status, time.perf_counter() - start)

        return StreamingResponse(stream(), media_type="text/plain")

    @app.post("/feedback", status_code=204)
    async def feedback(body: FeedbackRequest) -> Response:
        metrics.feedback.labels(config.model_name, "positive" if body.positive else "negative").inc()
        return Response(status_code=204)

    # Server spans for every request but the probes (the platform's queries leave those out too).
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=PROBES)
    return app
