"""A local SMTP server for the sender benchmark (aiosmtpd, plain SMTP, no auth): accepts and
counts messages. Prints `SMTP <port>` once listening; serves until stdin closes."""
import socket
import sys

from aiosmtpd.controller import Controller


class Count:
    n = 0

    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"


with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
controller = Controller(Count(), hostname="127.0.0.1", port=port)
controller.start()
print(f"SMTP {port}", flush=True)
sys.stdin.read()
controller.stop()
print(f"received {Count.n}", flush=True)
