"""A real local SMTP server (aiosmtpd) and a local HTTP server playing the SMS gateway, for the code tests."""
from __future__ import annotations

import socket
import time
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server received: (recipients, subject, body) per message."""

    def __init__(self):
        self.messages: list[tuple[list[str], str, str]] = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), str(message["Subject"]),
                              message.get_body(("plain",)).get_content()))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free local port."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def wait_for(items: list, count: int = 1, seconds: float = 10.0) -> list:
    """Wait until `items` holds at least `count` entries (the codes are sent on a thread)."""
    deadline = time.monotonic() + seconds
    while len(items) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return items
