"""``gisplan serve`` as a real process on a free loopback port (its memory and its event loop its own),
and a raw HTTP client that streams a body and stops as soon as the server answers.

The server's output (the access log) goes to a file, never a pipe that could fill and stall it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    base: str
    pid: int
    log: Path

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)


@contextlib.contextmanager
def serve_process(
    env: dict[str, str], log: Path, *, ready: str = "/healthz", timeout_s: float = 90, grace_s: float = 15
) -> Iterator[Served]:
    """Start ``gisplan serve`` with ``env`` added to this environment; yields once ``ready`` answers
    (any status: the process is up); stops it and its worker processes afterwards (SIGTERM to its
    process group, then SIGKILL after ``grace_s``)."""
    port = free_port()
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **env}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gis", "serve", "--port", str(port)],
            env=full,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group: the worker processes go with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gisplan serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                httpx.get(base + ready, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gisplan serve did not answer in {timeout_s} s") from None
                time.sleep(0.2)
        yield Served(base, proc.pid, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group (a worker mid-task)
        proc.wait(timeout=15)


@dataclass
class Answer:
    """What came back for a streamed body: status, headers (lower-case names), body, and how long
    the answer took and how much of the body had been sent by then."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    seconds: float
    sent: int
    error: str | None = None


@dataclass
class _Outgoing:
    total: int
    chunked: bool
    piece: bytes
    made: int = 0
    buffer: bytearray = field(default_factory=bytearray)

    def fill(self) -> None:
        """Keep at least one piece queued, framed as the request says, until the body is made."""
        if self.buffer or self.made >= self.total:
            return
        data = self.piece[: self.total - self.made]
        self.made += len(data)
        if self.chunked:
            self.buffer += f"{len(data):x}\r\n".encode() + data + b"\r\n"
            if self.made >= self.total:
                self.buffer += b"0\r\n\r\n"
        else:
            self.buffer += data


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers, body) once a whole response is in ``raw``, else None."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    if len(rest) < length:
        return None
    return status, headers, rest[:length]


def stream_body(
    base: str,
    method: str,
    path: str,
    *,
    total: int,
    chunked: bool,
    headers: dict[str, str] | None = None,
    piece: bytes = b"x" * (1 << 20),
    deadline_s: float = 20.0,
) -> Answer:
    """Send ``method path`` with a body of ``total`` bytes (``piece`` repeated) as fast as the server
    takes it, chunked or with a Content-Length, reading all the while; stop sending the moment an
    answer arrives (or the server closes, or ``deadline_s`` passes)."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    out = _Outgoing(total, chunked, piece)
    out.buffer += ("\r\n".join(lines) + "\r\n\r\n").encode()
    raw, sent, error, parsed = bytearray(), 0, None, None
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=deadline_s) as sock:
        sock.setblocking(False)
        sending = True
        while time.perf_counter() - started < deadline_s and parsed is None:
            out.fill()
            want_write = [sock] if sending and out.buffer else []
            readable, writable, _ = select.select([sock], want_write, [], 0.5)
            if readable:
                try:
                    data = sock.recv(1 << 16)
                except ConnectionResetError:
                    error = "reset"
                    break
                if not data:
                    error = "closed"
                    break
                raw += data
                parsed = _parse(bytes(raw))
            elif writable:
                try:
                    n = sock.send(out.buffer)
                except (BrokenPipeError, ConnectionResetError):
                    sending = False  # the server stopped reading: wait for its answer
                    continue
                del out.buffer[:n]
                sent += n
    seconds = time.perf_counter() - started
    if parsed is None:
        return Answer(None, {}, bytes(raw), seconds, sent, error or "timeout")
    status, got, body = parsed
    return Answer(status, got, body, seconds, sent)


@contextlib.contextmanager
def peak_rss(served: Served, every_s: float = 0.02) -> Iterator[list[int]]:
    """Samples the server's RSS while the block runs; yields a list that ends as [baseline, peak]."""
    baseline = served.rss()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], served.rss())
            stop.wait(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result: list[int] = []
    try:
        yield result
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(psutil.Error):
            peak[0] = max(peak[0], served.rss())
        result += [baseline, peak[0]]
