"""auth0-python's Database.change_password against a latchkey that delivers over SMTP
(STARTTLS + AUTH) to the test server: the reset mail and the signup's verification mail
arrive with the right headers, both bodies and working links."""
import email
import email.policy
import os
import re
import time
import urllib.request

from auth0.authentication import Database

domain, client_id, mail_dir = os.environ["LK_DOMAIN"], os.environ["LK_CLIENT_ID"], os.environ["MAIL_DIR"]
address = f"smtp-{time.time_ns()}@example.com"
passed, failed = 0, 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   smtp: {name}")
    else:
        failed += 1
        print(f"  FAIL smtp: {name} {detail!r}")


db = Database(domain, client_id)
db.signup(email=address, password="Passw0rd!", connection="Username-Password-Authentication")
answer = db.change_password(email=address, connection="Username-Password-Authentication")
check("Database.change_password answers Auth0's text", answer == "We've just sent you an email to reset your password.", answer)

# The sender runs every second: a bounded wait for the file the server writes.
found = None
for _ in range(100):
    for name in sorted(os.listdir(mail_dir)):
        if name.endswith(".eml"):
            with open(os.path.join(mail_dir, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            # The signup sent a verification email too (SMTP is configured): take the reset.
            if msg["To"] == address and msg["Subject"].startswith("Reset your"):
                found = msg
    if found:
        break
    time.sleep(0.1)
check("the reset email arrives over STARTTLS with authentication", found is not None)
if found:
    check("headers: From, To, Subject", found["From"] == f"no-reply@127.0.0.1" and found["Subject"] == "Reset your SDK tests password", (found["From"], found["Subject"]))
    text = found.get_body(("plain",)).get_content()
    html = found.get_body(("html",)).get_content()
    link = re.search(r"https://\S+/u/reset-password\?ticket=\w{32}#", text)
    check("both bodies, with the absolute link", link is not None and link.group(0) in html, text)
    if link:
        ctx = __import__("ssl").create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
        with urllib.request.urlopen(link.group(0), context=ctx) as page:
            check("the link opens the reset page", page.status == 200 and b'id="password-confirmation"' in page.read())

# The verification email the signup sent (SMTP is configured, so verification is on).
verify = None
for _ in range(100):
    for name in sorted(os.listdir(mail_dir)):
        if name.endswith(".eml"):
            with open(os.path.join(mail_dir, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            if msg["To"] == address and msg["Subject"] == "Verify your email":
                verify = msg
    if verify:
        break
    time.sleep(0.1)
check("the verification email arrives too", verify is not None)
if verify:
    check("its headers: From, To", verify["From"] == "no-reply@127.0.0.1" and verify["To"] == address, verify["From"])
    text = verify.get_body(("plain",)).get_content()
    html = verify.get_body(("html",)).get_content()
    link = re.search(r"https://\S+/u/email-verification\?ticket=\w{32}#", text)
    check("both bodies, with the absolute verification link", link is not None and link.group(0) in html, text)
    if link:
        ctx = __import__("ssl").create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
        with urllib.request.urlopen(link.group(0), context=ctx) as page:
            check("the link verifies the address", page.status == 200 and b"Your email was verified" in page.read())

print(f"smtp: {passed} passed, {failed} failed")
raise SystemExit(1 if failed else 0)
