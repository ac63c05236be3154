"""A local stand-in for an S3 bucket, so a worker stores files through the real django-storages and boto3
code and a test can see exactly which objects exist.

`FakeS3` listens on 127.0.0.1 and serves one bucket with path-style addressing: PUT, GET, HEAD and DELETE
of an object and ListObjects (v1 and v2, with a prefix and the "/" delimiter), with S3's XML error bodies.
It keeps objects in memory and checks no signatures. `stall_put(prefix, nth)` makes the nth PUT under
`prefix` store its object and then hold the response, as S3 does when it has the object but the client
never hears so: the client is stuck there until the test kills it (or calls `release()`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

BUCKET = "greenlight-faults"
NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class _Stall:
    prefix: str
    nth: int
    seen: int = 0


def _aws_chunked(body: bytes) -> bytes:
    """The payload of an `aws-chunked` body: hex size lines, each chunk, then trailers after size 0."""
    out, rest = bytearray(), body
    while rest:
        header, _, rest = rest.partition(b"\r\n")
        size = int(header.split(b";", 1)[0], 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # Routing -------------------------------------------------------------------------------------------
    def _target(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        bucket, _, key = parts.path.lstrip("/").partition("/")
        if bucket != BUCKET:
            self._error(404, "NoSuchBucket", "The specified bucket does not exist")
            return "", {}
        return unquote(key), dict(parse_qsl(parts.query, keep_blank_values=True))

    def do_PUT(self) -> None:
        key, _ = self._target()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "aws-chunked" in (self.headers.get("Content-Encoding") or "") or (
            self.headers.get("x-amz-content-sha256") or ""
        ).startswith("STREAMING-"):
            body = _aws_chunked(body)
        if not key:
            return
        fake = self.server.fake
        fake.put(key, body)
        if fake.should_stall(key):
            fake.stalled.set()
            fake.released.wait(120)
            if not fake.released.is_set():
                return
        self._reply(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})  # S3 names objects by MD5

    def do_GET(self) -> None:
        key, query = self._target()
        fake = self.server.fake
        if not key:
            if self.path.split("?", 1)[0].rstrip("/") == f"/{BUCKET}":
                self._list(query)
            return
        body = fake.get(key)
        if body is None:
            self._error(404, "NoSuchKey", "The specified key does not exist.")
            return
        self._reply(200, body, {"Content-Type": "application/octet-stream", "ETag": f'"{len(body)}"'})

    def do_HEAD(self) -> None:
        key, _ = self._target()
        body = self.server.fake.get(key) if key else None
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"))
        self.end_headers()

    def do_DELETE(self) -> None:
        key, _ = self._target()
        if key:
            self.server.fake.delete(key)
            self._reply(204, b"", {})

    # Replies -------------------------------------------------------------------------------------------
    def _list(self, query: dict[str, str]) -> None:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        keys = self.server.fake.keys(prefix)
        folders: list[str] = []
        files: list[str] = []
        for key in keys:
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter, 1)[0] + delimiter
                if folder not in folders:
                    folders.append(folder)
            else:
                files.append(key)
        encode = (lambda text: quote(text, safe="/")) if query.get("encoding-type") == "url" else escape
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        contents = "".join(
            f"<Contents><Key>{encode(key)}</Key><LastModified>{now}</LastModified><ETag>&quot;x&quot;</ETag>"
            f"<Size>{len(self.server.fake.get(key) or b'')}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            for key in files
        )
        common = "".join(f"<CommonPrefixes><Prefix>{encode(folder)}</Prefix></CommonPrefixes>" for folder in folders)
        v2 = query.get("list-type") == "2"
        marker = f"<KeyCount>{len(files) + len(folders)}</KeyCount>" if v2 else "<Marker></Marker>"
        encoding = "<EncodingType>url</EncodingType>" if query.get("encoding-type") == "url" else ""
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NAMESPACE}"><Name>{BUCKET}</Name>'
            f"<Prefix>{encode(prefix)}</Prefix>{marker}<MaxKeys>1000</MaxKeys><Delimiter>{encode(delimiter)}</Delimiter>"
            f"{encoding}<IsTruncated>false</IsTruncated>{contents}{common}</ListBucketResult>"
        )
        self._reply(200, xml.encode(), {"Content-Type": "application/xml"})

    def _error(self, status: int, code: str, message: str) -> None:
        xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        self._reply(status, xml.encode(), {"Content-Type": "application/xml"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeS3

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request leaves a broken pipe behind: expected, and silent


class FakeS3:
    def __init__(self) -> None:
        self.stalled = threading.Event()
        self.released = threading.Event()
        self._objects: dict[str, bytes] = {}
        self._stall: _Stall | None = None
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def environment(self) -> dict[str, str]:
        """What a Greenlight process needs to store its files here (config/settings.py reads these)."""
        return {
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": "eu-west-2",
            "AWS_ACCESS_KEY_ID": "fake-access-key",
            "AWS_SECRET_ACCESS_KEY": "fake-secret-key",
        }

    def start(self) -> FakeS3:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def stall_put(self, prefix: str, nth: int = 1) -> None:
        with self._lock:
            self._stall = _Stall(prefix=prefix, nth=nth)
            self.stalled.clear()
            self.released.clear()

    def release(self) -> None:
        self.released.set()

    def should_stall(self, key: str) -> bool:
        with self._lock:
            stall = self._stall
            if stall is None or not key.startswith(stall.prefix):
                return False
            stall.seen += 1
            if stall.seen < stall.nth:
                return False
            self._stall = None  # once: the delivery after the kill stores normally
            return True

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._objects[key] = body

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._objects.get(key)

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(key for key in self._objects if key.startswith(prefix))
