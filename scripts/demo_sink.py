"""A tiny HTTP service for the demo: accepts ``POST /readings`` and logs the JSON body.

    .venv/bin/python scripts/demo_sink.py [--port 8099]

It listens on 127.0.0.1 only, answers ``201 {"ok": true}`` to a JSON body and 400 otherwise,
``GET /readings`` returns the readings received so far, and it stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("demo_sink")

MAX_BODY_BYTES = 64 * 1024


class ReadingsHandler(BaseHTTPRequestHandler):
    readings: list[object] = []

    def do_POST(self) -> None:
        if self.path != "/readings":
            self._send(404, {"ok": False, "error": f"no route {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, {"ok": False, "error": "body too large"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            self._send(400, {"ok": False, "error": "the body is not JSON"})
            return
        self.readings.append(body)
        log.info("reading: %s", json.dumps(body, ensure_ascii=False))
        self._send(201, {"ok": True})

    def do_GET(self) -> None:
        if self.path != "/readings":
            self._send(404, {"ok": False, "error": f"no route {self.path}"})
            return
        self._send(200, {"readings": self.readings})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), ReadingsHandler)
    # shutdown() waits for serve_forever() to return, so it must run on another thread.
    stop = lambda *_: threading.Thread(target=server.shutdown).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("listening on http://127.0.0.1:%s/readings", args.port)
    server.serve_forever()
    server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
