"""Runs the reference inference service: `python -m service` (make serve runs it on 127.0.0.1)."""

import logging
import os
import sys

import prometheus_client
import uvicorn

from service import telemetry
from service.app import Config, create_app


def main() -> int:
    telemetry.json_logging()
    try:
        config = Config.from_environ(os.environ)
    except ValueError as error:
        logging.getLogger("inference").error(str(error))
        return 2
    app = create_app(config)
    # The metrics on their own port, as the platform scrapes them: the http port serves traffic only.
    prometheus_client.start_http_server(config.metrics_port, addr=config.host, registry=app.state.metrics.registry)
    logging.getLogger("inference").info("serving", extra={"fields": {
        "model": config.model_name, "accuracy": round(app.state.classifier.accuracy, 3),
        "http": f"{config.host}:{config.http_port}", "metrics": f"{config.host}:{config.metrics_port}"}})
    uvicorn.run(app, host=config.host, port=config.http_port, log_config=None, access_log=False)
    app.state.tracer_provider.shutdown()  # flush the last spans
    return 0


if __name__ == "__main__":
    sys.exit(main())
