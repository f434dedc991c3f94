"""The reference service's request shapes for Locust (`make load` runs it, headless): a prediction, and a
streamed generation timed to its last token, with the wait for its first token as a request of its own.

Each user sends at most one request a second, so USERS is the request rate. Loaded only by Locust, in its
own process: importing locust patches the process for gevent.
"""

from __future__ import annotations

import time

from locust import FastHttpUser, constant_throughput, task

FLOWER = [5.1, 3.5, 1.4, 0.2]  # a setosa: row 1 of Fisher's Iris data
FIRST_TOKEN = "FIRST-TOKEN"  # the request type under which a stream's first token is recorded


class InferenceClient(FastHttpUser):
    wait_time = constant_throughput(1)

    @task
    def predict(self) -> None:
        self.client.post("/predict", json={"instances": [FLOWER]}, name="/predict")

    @task
    def generate(self) -> None:
        started = time.perf_counter()
        with self.client.post("/generate", json={"prompt": "describe an iris", "max_tokens": 4}, stream=True,
                              catch_response=True, name="/generate") as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            token = response.stream.read(1)  # returns with the stream's first byte: the first token
            first = time.perf_counter()
            response.stream.read()
            # Locust times a stream to its headers: record the whole stream, and its first token on its own.
            response.request_meta["response_time"] = (time.perf_counter() - started) * 1000
            if not token:
                response.failure("the stream ended without a token")
                return
        self.environment.events.request.fire(request_type=FIRST_TOKEN, name="/generate",
                                             response_time=(first - started) * 1000, response_length=0,
                                             exception=None, context={})
