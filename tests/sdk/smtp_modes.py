"""SMTP delivery in every TLS mode and through failures, each against its own latchkey binary
(LATCHKEY: its path) and a real aiosmtpd server in this process:
- implicit TLS (`smtps://`, AUTH) and plain SMTP (`smtp://host:port`, no TLS, no AUTH);
- the server down: change_password still answers at once, the outbox records the failure, and
  the message arrives once the server is up (the first retry is 10 s after the failure);
- the server refusing with a 451: retried, then delivered once;
- a template's own sender (`emails.reset_email.from`) in the From header.
TLS_CERT/TLS_KEY: the SMTP server's certificate, signed by the CA in SSL_CERT_FILE (which
latchkey's rustls trusts)."""
import email
import email.policy
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd warns about AUTH without STARTTLS, which is the implicit-TLS case (TLS throughout).
warnings.filterwarnings("ignore", module="aiosmtpd")
BINARY = os.environ["LATCHKEY"]
USER, PASSWORD = b"mailer", b"mail-secret"
passed, failed = 0, 0
procs = []
work = tempfile.mkdtemp()


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   smtp-modes: {name}")
    else:
        failed += 1
        print(f"  FAIL smtp-modes: {name} {detail!r}")


class Inbox:
    """Keeps every message; `refuse` answers that many DATA commands with a 451 first."""

    def __init__(self, refuse=0):
        self.messages, self.refuse, self.lock = [], refuse, threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 Try again later"
            self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def resets(self, to):
        with self.lock:
            return [m for m in self.messages if m["To"] == to and "reset" in m["Subject"].lower()]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    return AuthResult(success=ok)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_server(inbox, port, implicit_tls=False):
    kwargs = {}
    if implicit_tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
        # The whole session is TLS: AUTH is allowed from the first command.
        kwargs = dict(ssl_context=tls, authenticator=authenticator, auth_required=True, auth_require_tls=False)
    c = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    return c


TENANT = """
tenant: {friendly_name: Modes}
clients:
  - name: Backend
    client_id: modes-backend
    client_secret: modes-backend-secret
    app_type: regular_web
client_grants:
  - client_id: Backend
    audience: management
    scope: [read:emails]
connections:
  - name: Username-Password-Authentication
    enabled_clients: [Backend]
emails:
  reset_email: { from: "Modes Support <support@modes.example>" }
  verify_email: { enabled: false }
"""


def latchkey(smtp_url):
    n = len(procs)
    tenant = os.path.join(work, "tenant.yaml")
    with open(tenant, "w") as f:
        f.write(TENANT)
    out = open(os.path.join(work, f"lk{n}.out"), "w+")
    p = subprocess.Popen([BINARY, "serve", "--listen", "127.0.0.1:0", "--database-url",
                          f"sqlite://{work}/lk{n}.db", "--tenant-file", tenant, "--log-format", "json",
                          "--smtp-url", smtp_url], stdout=out, stderr=open(os.path.join(work, f"lk{n}.log"), "w"))
    procs.append(p)
    for _ in range(300):
        out.seek(0)
        m = re.search(r"listening on (http://[0-9.:]+)", out.read())
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise SystemExit(f"latchkey did not start: {open(os.path.join(work, f'lk{n}.log')).read()}")


def post(base, path, body):
    req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status, r.read().decode()


def outbox(base, to):
    _, token = post(base, "/oauth/token", {"grant_type": "client_credentials", "client_id": "modes-backend",
                                           "client_secret": "modes-backend-secret", "audience": f"{base}/api/v2/"})
    req = urllib.request.Request(f"{base}/api/v2/emails?to={urllib.parse.quote(to)}",
                                 headers={"authorization": f"Bearer {json.loads(token)['access_token']}"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def request_reset(base, to):
    """Signs `to` up and asks for a reset; returns the answer's status and how long it took."""
    post(base, "/dbconnections/signup", {"client_id": "modes-backend", "email": to, "password": "Passw0rd!",
                                         "connection": "Username-Password-Authentication"})
    start = time.monotonic()
    status, _ = post(base, "/dbconnections/change_password",
                     {"client_id": "modes-backend", "email": to, "connection": "Username-Password-Authentication"})
    return status, time.monotonic() - start


def wait_for(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


try:
    # Implicit TLS with AUTH.
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port, implicit_tls=True)
    base = latchkey(f"smtps://mailer:mail-secret@127.0.0.1:{port}")
    to = f"tls-{time.time_ns()}@example.com"
    request_reset(base, to)
    check("implicit TLS (smtps://) with AUTH delivers", wait_for(lambda: inbox.resets(to), 15))
    got = inbox.resets(to)
    check("the template's sender is the From header",
          bool(got) and got[0]["From"] == "Modes Support <support@modes.example>", got and got[0]["From"])
    server.stop()

    # Plain SMTP, no TLS, no AUTH.
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port)
    base = latchkey(f"smtp://127.0.0.1:{port}")
    to = f"plain-{time.time_ns()}@example.com"
    request_reset(base, to)
    check("plain SMTP (smtp://host:port) delivers", wait_for(lambda: inbox.resets(to), 15))
    server.stop()

    # The server down, then up.
    port = free_port()
    base = latchkey(f"smtp://127.0.0.1:{port}")
    to = f"down-{time.time_ns()}@example.com"
    status, took = request_reset(base, to)
    check("with the SMTP server down, change_password answers 200 at once", status == 200 and took < 1, (status, took))
    failed_once = wait_for(lambda: (outbox(base, to) or [{}])[0].get("attempts", 0) >= 1, 15)
    mail = (outbox(base, to) or [{}])[0]
    check("the outbox records the failed attempt", failed_once and mail.get("sent_at") is None and mail.get("last_error"), mail)
    inbox = Inbox()
    server = smtp_server(inbox, port)
    check("the message arrives once the server is up (retried with backoff)", wait_for(lambda: inbox.resets(to), 30))
    check("and the outbox marks it sent", wait_for(lambda: outbox(base, to)[0].get("sent_at") is not None, 5))
    server.stop()

    # The server refusing (451) once.
    inbox, port = Inbox(refuse=1), free_port()
    server = smtp_server(inbox, port)
    base = latchkey(f"smtp://127.0.0.1:{port}")
    to = f"refused-{time.time_ns()}@example.com"
    status, took = request_reset(base, to)
    check("with the server refusing, change_password answers 200 at once", status == 200 and took < 1, (status, took))
    check("the 451 is recorded", wait_for(lambda: "451" in ((outbox(base, to) or [{}])[0].get("last_error") or ""), 15))
    check("the message is retried and delivered once", wait_for(lambda: inbox.resets(to), 30))
    time.sleep(2)  # the window in which a second delivery would show
    check("exactly once", len(inbox.resets(to)) == 1, len(inbox.resets(to)))
    server.stop()
except Exception as e:  # noqa: BLE001 - report and fail
    import traceback
    traceback.print_exc()
    failed += 1
finally:
    for p in procs:
        p.kill()
print(f"smtp-modes: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
