"""Runs the reference inference service: `python -m service` (make serve runs it on 127.0.0.1)."""

import errno
import logging
import os
import socket
import sys

import prometheus_client
import uvicorn

from service import telemetry
from service.app import Config, create_app


def in_use(host: str, port: int) -> bool:
    """Whether something already listens on `port`: a bind would fail with EADDRINUSE."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def main() -> int:
    telemetry.json_logging()
    try:
        config = Config.from_environ(os.environ)
    except ValueError as error:
        logging.getLogger("inference").error(str(error))
        return 2
    ports = (("HTTP_PORT", config.http_port), ("METRICS_PORT", config.metrics_port))
    taken = [(variable, port) for variable, port in ports if in_use(config.host, port)]
    if taken:
        variable, port = taken[0]
        print(f"port {port} on {config.host} is taken (another make serve?): pick another with "
              f"{variable}=<port>, e.g. make serve {variable}={port + 1}", file=sys.stderr)
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
