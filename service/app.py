"""The reference inference service: an iris classifier behind FastAPI, instrumented to the platform's contract.

POST /predict {"instances": [[5.1, 3.5, 1.4, 0.2], ...]} answers {"predictions": [...]}; invalid
input gets a 422 naming what is wrong. /health (alive) and /ready (model loaded) are on the same
port; the metrics are on their own (service/__main__.py). FAULT_RATE and EXTRA_LATENCY_SECONDS
inject failures and slowness for tests and demos.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, Field

from service import model, telemetry

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

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Every /predict request, whatever happens to it, in the contract's counter and histogram."""
        if request.url.path != "/predict":
            return await call_next(request)
        start, status = time.perf_counter(), "error"
        try:
            response = await call_next(request)
            status = outcome(response.status_code)
            return response
        finally:
            seconds = time.perf_counter() - start
            metrics.request(status, seconds)
            log.info("predict", extra={"fields": {"model": config.model_name, "status": status,
                                                  "latency_ms": round(seconds * 1000, 1)}})

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

    # Server spans for every request but the probes (the platform's queries leave those out too).
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=PROBES)
    return app
