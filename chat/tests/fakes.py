"""A local stand-in for the Gemini and OpenAI HTTP APIs, so tests drive the real client libraries.

`FakeAIServer` listens on 127.0.0.1. Each provider has a queue of scripted replies, answered in
order; every request is kept (path, headers, JSON body, arrival time) for assertions. Replies mimic
the documented shapes: Gemini `models/{model}:generateContent` and OpenAI `chat/completions`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GEMINI = "gemini"
OPENAI = "openai"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    provider: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def raw(self) -> str:
        return json.dumps(self.body)


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def _text(output: dict[str, Any] | str) -> str:
    return output if isinstance(output, str) else json.dumps(output)


def gemini_ok(output: dict[str, Any] | str, *, tokens_in: int = 120, tokens_out: int = 80, delay: float = 0) -> Reply:
    return Reply(
        body=_json(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": _text(output)}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": tokens_in,
                    "candidatesTokenCount": tokens_out,
                    "totalTokenCount": tokens_in + tokens_out,
                },
                "modelVersion": "gemini-2.5-flash",
            }
        ),
        delay=delay,
    )


def gemini_blocked() -> Reply:
    return Reply(
        body=_json(
            {
                "candidates": [{"finishReason": "SAFETY", "index": 0}],
                "usageMetadata": {"promptTokenCount": 40, "totalTokenCount": 40},
                "modelVersion": "gemini-2.5-flash",
            }
        )
    )


def openai_ok(output: dict[str, Any] | str, *, tokens_in: int = 110, tokens_out: int = 70, delay: float = 0) -> Reply:
    return Reply(
        body=_json(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_795_000_000,
                "model": "gpt-4.1-mini-2025-04-14",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": _text(output), "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": tokens_in,
                    "completion_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                },
            }
        ),
        delay=delay,
    )


def openai_refusal() -> Reply:
    return Reply(
        body=_json(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_795_000_000,
                "model": "gpt-4.1-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35},
            }
        )
    )


def error(
    status: int, message: str = "scripted failure", *, headers: dict[str, str] | None = None, **extra: Any
) -> Reply:
    # One body that both clients read: Google's {"error": {code, message, status}} and OpenAI's {"error": {message}}.
    body = {"error": {"code": status, "message": message, "status": "SCRIPTED", **extra}}
    return Reply(status=status, body=_json(body), headers=headers or {})


def malformed() -> Reply:
    return Reply(body=b'{"candidates": [ {"content": this is not JSON')


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        provider = GEMINI if self.path.endswith(":generateContent") else OPENAI
        fake = self.server.fake
        fake.record(
            SeenRequest(
                provider=provider,
                path=self.path,
                headers={key.lower(): value for key, value in self.headers.items()},
                body=json.loads(raw or b"{}"),
                at=time.monotonic(),
            )
        )
        reply = fake.next_reply(provider)
        if reply.delay and fake.stopping.wait(reply.delay):
            return
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) leaves a broken pipe behind: expected, and silent.
        pass


class FakeAIServer:
    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.stopping = threading.Event()
        self._replies: dict[str, deque[Reply]] = {GEMINI: deque(), OPENAI: deque()}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval lets shutdown() return quickly at the end of each test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, provider: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[provider].extend(replies)

    def next_reply(self, provider: str) -> Reply:
        with self._lock:
            if self._replies[provider]:
                return self._replies[provider].popleft()
        return error(500, f"The test scripted no more replies for {provider}.")

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self, provider: str) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.provider == provider]
