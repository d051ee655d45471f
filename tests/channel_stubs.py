"""Local stand-ins for the outside world the notification channels talk to, run in threads by the tests.

`SmtpStub`: a real SMTP server (aiosmtpd) that keeps every message it receives (`received`) and a mailbox with one
message per Message-ID (`mailbox`), as a mail store does. `GatewayStub`: an HTTP server playing a signed-template
SMS gateway: it checks the app key and the HMAC signature (and refuses a reused nonce), answers as told by its
`script` ("ok", "500", "timeout" or a business error code such as "isv.BUSINESS_LIMIT_CONTROL"), and accepts each
`out_id` once (`accepted`), answering OK to a copy without accepting it again. Both can `hold` the n-th message:
they record it, signal `reached`, and do not answer until `release` is set (a sender killed in that window is the
worst case for idempotency).
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from socialforce.platform.services.channels import sign

APP_KEY, APP_SECRET = "test-app-key", "test-app-secret"


class _Hold:
    def __init__(self):
        self.at: int | None = None  # hold the n-th message (1-based) received
        self.reached, self.release = threading.Event(), threading.Event()

    def arm(self, at: int) -> None:
        self.at = at
        self.reached.clear()
        self.release.clear()

    def hits(self, count: int) -> bool:
        if self.at is not None and count == self.at:
            self.reached.set()
            return True
        return False


def _free_port() -> int:
    """A port free a moment ago (aiosmtpd's Controller checks its port by connecting, so it cannot take 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpStub:
    """aiosmtpd on 127.0.0.1 with a recording handler."""

    def __init__(self):
        self.received: list[email.message.EmailMessage] = []
        self.mailbox: dict[str, email.message.EmailMessage] = {}
        self.script: list[str] = []  # answers to DATA before "250 OK", e.g. "451 4.3.0 try later"
        self.hold = _Hold()
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=_free_port())

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            if self.script:
                return self.script.pop(0)
            self.received.append(message)
            self.mailbox.setdefault(str(message["Message-ID"]).strip(), message)
            held = self.hold.hits(len(self.received))
        if held:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.release.wait, 30)
        return "250 OK queued"

    def start(self) -> SmtpStub:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.hold.release.set()
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _GatewayServer

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the sender was killed or timed out meanwhile
            pass

    def do_POST(self):  # noqa: N802 - http.server's naming
        stub = self.server.stub
        body = self.rfile.read(int(self.headers["Content-Length"]))
        timestamp, nonce = self.headers.get("X-Timestamp", ""), self.headers.get("X-Nonce", "")
        expected = sign(APP_SECRET, "POST", urlsplit(self.path).path, timestamp, nonce, body)
        with stub.lock:
            fresh = nonce not in stub.nonces
            stub.nonces.add(nonce)
        if (self.headers.get("X-App-Key") != APP_KEY or self.headers.get("X-Signature") != expected or not fresh
                or abs(time.time() - int(timestamp or 0)) > 300):
            stub.refused += 1
            return self._answer(401, {"code": "SignatureDoesNotMatch"})
        request = json.loads(body)
        with stub.lock:
            stub.requests.append(request)
            mode = stub.script.pop(0) if stub.script else "ok"
            held = mode == "ok" and request["out_id"] not in stub.accepted and stub.hold.hits(
                len(stub.accepted) + 1)
            if mode == "ok":
                stub.accepted.setdefault(request["out_id"], request)
        if held:
            stub.hold.release.wait(30)
        if mode == "ok":
            return self._answer(200, {"code": "OK", "biz_id": request["out_id"]})
        if mode == "500":
            return self._answer(500, {"code": "isp.SYSTEM_ERROR"})
        if mode == "timeout":
            time.sleep(stub.timeout_sleep)
            return self._answer(200, {"code": "OK"})
        return self._answer(200, {"code": mode, "message": "refused by the stub"})

    def log_message(self, *args):
        pass


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    stub: GatewayStub


class GatewayStub:
    """The SMS gateway on 127.0.0.1 (see the module docstring)."""

    def __init__(self, timeout_sleep: float = 1.5):
        self.requests: list[dict] = []  # every verified request, in order
        self.accepted: dict[str, dict] = {}  # out_id -> the request that delivered it
        self.script: list[str] = []
        self.nonces: set[str] = set()
        self.refused = 0
        self.timeout_sleep = timeout_sleep
        self.hold = _Hold()
        self.lock = threading.Lock()
        self.server = _GatewayServer(("127.0.0.1", 0), _GatewayHandler)
        self.server.stub = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> GatewayStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.hold.release.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"
