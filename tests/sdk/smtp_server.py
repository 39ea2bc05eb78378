"""A real SMTP server for the email tests (aiosmtpd): STARTTLS with the test certificate,
AUTH LOGIN/PLAIN required (after TLS) with one user, each message saved as a file in
MAIL_DIR. Prints `SMTP <port>` once listening, then serves until killed."""
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MAIL_DIR = os.environ["MAIL_DIR"]
USER, PASSWORD = b"mailer", b"mail-secret"


class Save:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(MAIL_DIR, f"{time.time_ns()}.eml")
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(name + ".tmp", name)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    return AuthResult(success=ok)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
port = free_port()
controller = Controller(
    Save(), hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
    authenticator=authenticator, auth_required=True, auth_require_tls=True,
)
controller.start()
print(f"SMTP {port}", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    controller.stop()
    sys.exit(0)
