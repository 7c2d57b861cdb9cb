"""A small HTTP/1.1 client on asyncio streams: kept-alive connections to one server, at most
``connections`` requests in flight (the bound), each request timed from send to last byte.

Why not a load-testing framework: on a 2-core machine the client competes with the server for the
same cores, and an asyncio loop on raw streams costs a fraction of a thread-per-user tool's work per
request. Only what the drill needs: JSON bodies, Content-Length or chunked answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


class Lost(Exception):
    """The connection broke or timed out before a whole answer came (a fault, or a server bug)."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()

    def close(self) -> None:
        self.writer.close()


class Client:
    IDLE = 3.0  # below gunicorn's keep-alive (5 s): a connection idle longer may be closing

    def __init__(self, host: str, port: int, connections: int = 64, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    async def request(self, method: str, path: str, *, json_body: Any = None, token: str | None = None,
                      client_ip: str | None = None) -> Answer:
        """One request; raises Lost when no whole answer came."""
        body = b"" if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: application/json",
                f"Content-Length: {len(body)}"]
        if json_body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"Authorization: Bearer {token}")
        if client_ip:  # the drill stands where the office's reverse proxy stands (ONEWINDOW_TRUSTED_PROXIES=1)
            head.append(f"X-Forwarded-For: {client_ip}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with self._slots:
            for _attempt in range(2):
                conn = self._take()
                reused = conn is not None
                t0 = time.perf_counter()
                try:
                    if conn is None:
                        conn = _Connection(*await asyncio.wait_for(
                            asyncio.open_connection(self.host, self.port), self.timeout))
                    conn.writer.write(raw)
                    status, headers, payload = await asyncio.wait_for(self._read(conn.reader), self.timeout)
                    break
                except asyncio.IncompleteReadError as exc:
                    conn.close()
                    if reused and not exc.partial:  # the server closed the kept-alive connection: try a new one
                        continue
                    raise Lost(f"IncompleteReadError: {exc}") from None
                except (TimeoutError, OSError, ValueError) as exc:
                    if conn is not None:
                        conn.close()
                    raise Lost(f"{type(exc).__name__}: {exc}") from None
            else:
                raise Lost("the server closed two connections in a row")
            seconds = time.perf_counter() - t0
            if headers.get("connection", "").lower() == "close":
                conn.close()
            else:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
        return Answer(status, headers, payload, seconds)

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < self.IDLE:
                return conn
            conn.close()
        return None

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            return status, headers, await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return status, headers, b"".join(chunks)
                chunks.append(chunk[:-2])
        if headers.get("connection", "").lower() == "close":
            return status, headers, await reader.read()
        return status, headers, b""

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
