"""Delivery across processes: password-change requests spread over two latchkey instances on
one PostgreSQL database, both delivering the shared outbox to the test SMTP server, reach it
once each; and a message queued by an instance killed with SIGKILL (no SMTP configured) is
delivered after a restart with SMTP. LK_A, LK_B: the two instances; MAIL_DIR: the server's."""
import email
import email.policy
import json
import os
import ssl
import time
import urllib.request

a, b, mail_dir = os.environ["LK_A"], os.environ["LK_B"], os.environ["MAIL_DIR"]
ctx = ssl.create_default_context(cafile=os.environ["LK_CA"])
passed, failed = 0, 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   delivery: {name}")
    else:
        failed += 1
        print(f"  FAIL delivery: {name} {detail!r}")


def post(base, path, body):
    req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        return r.status


def received():
    """Recipients of the password-change emails (signups with SMTP also send a
    verification email, which is not counted here)."""
    out = []
    for name in os.listdir(mail_dir):
        if name.endswith(".eml"):
            with open(os.path.join(mail_dir, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            if msg["Subject"].startswith("Reset your"):
                out.append(msg["To"])
    return out


stamp = time.time_ns()
users = [f"once-{stamp}-{i}@example.com" for i in range(10)]
for u in users:
    post(a, "/dbconnections/signup", {"client_id": "sdk-backend", "email": u, "password": "Passw0rd!",
                                      "connection": "Username-Password-Authentication"})
for i, u in enumerate(users):
    post(a if i % 2 else b, "/dbconnections/change_password",
         {"client_id": "sdk-backend", "email": u, "connection": "Username-Password-Authentication"})
# Bounded waits on a condition; the last one is the window in which a duplicate would show.
deadline = time.time() + 20
while time.time() < deadline and not all(u in received() for u in users):
    time.sleep(0.1)
check("ten messages queued on two instances all arrive", all(u in received() for u in users))
time.sleep(3)
got = received()
check("each arrives once (both instances run a sender)", all(got.count(u) == 1 for u in users),
      {u: got.count(u) for u in users})
verify = []
for name in os.listdir(mail_dir):
    if name.endswith(".eml"):
        with open(os.path.join(mail_dir, name), "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        if msg["Subject"] == "Verify your email" and msg["To"] in users:
            verify.append(msg["To"])
check("with SMTP, each signup sent one verification email", sorted(verify) == sorted(users), len(verify))
if os.environ.get("KILLED_USER"):
    u = os.environ["KILLED_USER"]
    deadline = time.time() + 20
    while time.time() < deadline and u not in received():
        time.sleep(0.1)
    check("a message queued before kill -9 is delivered after the restart", u in received())
print(f"delivery: {passed} passed, {failed} failed")
raise SystemExit(1 if failed else 0)
