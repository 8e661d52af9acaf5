"""Local receivers for alert tests: a webhook endpoint and an SMTP server, on 127.0.0.1.

Both run in a daemon thread, record what they receive in a queue and are shut down by the
context manager; tests wait on the queue with a deadline, never sleep.
"""

from __future__ import annotations

import json
import queue
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

DEADLINE_SECONDS = 10.0


@dataclass
class Received:
    """What a receiver got, in arrival order; `statuses` are answers to give (then 200)."""

    items: queue.Queue = field(default_factory=queue.Queue)
    statuses: list[int] = field(default_factory=list)
    url: str = ""

    def next(self, timeout: float = DEADLINE_SECONDS) -> object:
        return self.items.get(timeout=timeout)


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Received]:
    """An HTTP server that records each POSTed JSON body (and its Content-Type)."""
    received = Received(statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = received.statuses.pop(0) if received.statuses else 200
            received.items.put(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                    "status": status,
                }
            )
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(DEADLINE_SECONDS)


@contextmanager
def smtp_receiver() -> Iterator[tuple[Received, int]]:
    """A minimal SMTP server (HELO/EHLO, MAIL, RCPT, DATA, QUIT) recording each message."""
    received = Received()

    class Handler(socketserver.StreamRequestHandler):
        timeout = DEADLINE_SECONDS

        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            envelope: dict[str, object] = {"to": []}
            while line := self.rfile.readline():
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    self.reply("250-localhost")
                    self.reply("250 8BITMIME")
                elif verb == "HELO":
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    envelope["from"] = command.split(":", 1)[1].strip()
                    self.reply("250 OK")
                elif verb == "RCPT":
                    envelope["to"].append(command.split(":", 1)[1].strip())  # type: ignore[union-attr]
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    data = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(chunk)
                    envelope["data"] = b"".join(data).decode()
                    received.items.put(dict(envelope))
                    self.reply("250 OK queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(DEADLINE_SECONDS)
