"""A real HTTP receiver for webhook tests: a server on 127.0.0.1 in a thread that records every request
and answers as it is told (a status, a body, and optionally a delay to make the sender time out)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, str, float]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, text, delay = receiver._record(
                    Received(self.path, {name.lower(): value for name, value in self.headers.items()}, body)
                )
                if delay:
                    time.sleep(delay)
                try:
                    encoded = text.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(encoded)))
                    self.end_headers()
                    self.wfile.write(encoded)
                except OSError:  # the sender gave up waiting and hung up
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # tests print nothing
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/greenlight"

    def answer(self, *answers: int | tuple[int, str] | Answer) -> None:
        """Queue answers for the next requests: a status, (status, body) or (status, body, delay seconds).
        Once they are used up, every request gets 200 "Thanks"."""
        for answer in answers:
            if isinstance(answer, int):
                self._answers.append((answer, f"Answer {answer}", 0.0))
            elif len(answer) == 2:
                self._answers.append((answer[0], answer[1], 0.0))
            else:
                self._answers.append(answer)  # type: ignore[arg-type]

    def _record(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            return self._answers.popleft() if self._answers else (200, "Thanks", 0.0)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def running_receiver(settings: Any) -> Iterator[Receiver]:
    """A running receiver; private addresses are allowed so Greenlight may post to it. Use it as a fixture:
    `_receiver = pytest.fixture(name="receiver")(running_receiver)`."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    running = Receiver()
    yield running
    running.close()


def closed_port_url() -> str:
    """An address on this machine where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
