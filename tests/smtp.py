"""A real SMTP server on loopback, from aiosmtpd, for email tests."""

import logging
import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO; tests need only its errors.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(
            {"to": list(envelope.rcpt_tos), "message": message, "raw": envelope.content}
        )
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """Start, stop and restart an SMTP server on one loopback port."""

    def __init__(self):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = None

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.mailbox.messages
