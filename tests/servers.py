"""Real servers for tests, on 127.0.0.1 only, started and stopped by the tests' fixtures with bounded waits.

- `llama_server`: llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) serving a GGUF.
- `chroma_server`: `chroma run` with a temporary path.
- `silent_server`: accepts connections and never answers (timeouts).
- `status_server`: answers every request with one HTTP status and JSON body, and records what it was sent.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it afterwards)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(args: list[str], ready_url: str, log: Path, *, timeout: float) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until the block ends; wait at most `timeout` seconds for `ready_url` to answer 200."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited with {proc.returncode}:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(args[:3])} not ready after {timeout:g}s:\n{_tail(log)}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-20:])


@dataclass
class LlamaServer:
    """A running llama.cpp server: `base_url` for ASSISTANT_OPENAI_BASE_URL, `completions()` counts requests served."""

    base_url: str
    log: Path

    def completions(self) -> int:
        """Chat completion requests answered so far (from the access log)."""
        return self.log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')


@contextmanager
def llama_server(model: Path, workdir: Path, *, alias: str = "smollm2", n_ctx: int = 4096) -> Iterator[LlamaServer]:
    """Serve `model` through llama-cpp-python's OpenAI-compatible server under the model name `alias`."""
    port = free_port()
    log = workdir / "llama-server.log"
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias]
    args += ["--host", HOST, "--port", str(port), "--n_ctx", str(n_ctx), "--n_batch", "512"]
    # One thread: on 2 cores shared with other work, two llama.cpp threads wait on each other and run ~6x slower.
    args += ["--n_threads", "1", "--n_threads_batch", "1"]
    with _process(args, f"http://{HOST}:{port}/v1/models", log, timeout=90):
        yield LlamaServer(f"http://{HOST}:{port}/v1", log)


@contextmanager
def chroma_server(path: Path, workdir: Path) -> Iterator[str]:
    """Run `chroma run` on a fresh port with its data under `path`; yield its URL."""
    beside = Path(sys.executable).parent / "chroma"  # the venv's bin need not be on PATH (make test calls .venv/bin)
    chroma = str(beside) if beside.exists() else shutil.which("chroma")
    assert chroma, "the `chroma` command (installed with chromadb) is missing"
    port = free_port()
    args = [chroma, "run", "--path", str(path), "--host", HOST, "--port", str(port)]
    with _process(args, f"http://{HOST}:{port}/api/v2/heartbeat", workdir / "chroma.log", timeout=60):
        yield f"http://{HOST}:{port}"


@contextmanager
def silent_server() -> Iterator[str]:
    """Accept connections on 127.0.0.1 and never answer; yield the base URL."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


@dataclass
class StatusServer:
    """A server that answers every request with `status` and `body`; `requests` holds (method, path, headers)."""

    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def status_server(status: int, body: dict[str, Any]) -> Iterator[StatusServer]:
    """Answer every request with one status and JSON body; yield the server (its URL ends in /v1)."""
    payload = json.dumps(body).encode()
    server: StatusServer

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            server.requests.append((self.command, self.path, dict(self.headers)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer  # noqa: N815  # http.server's naming

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer((HOST, 0), Handler)
    server = StatusServer(f"http://{HOST}:{httpd.server_address[1]}/v1")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
