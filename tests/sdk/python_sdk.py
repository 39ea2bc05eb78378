"""auth0-python's Database client against a started latchkey (HTTPS, private CA via
REQUESTS_CA_BUNDLE)."""

import os
import sys
import uuid

from auth0.authentication import Database
from auth0.authentication.exceptions import Auth0Error

domain = os.environ["LK_DOMAIN"]
client_id = os.environ["LK_CLIENT_ID"]
connection = os.environ["LK_CONNECTION"]
failures = []
passed = 0


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
        print(f"  ok   python: {name}")
    else:
        failures.append(name)
        print(f"  FAIL python: {name} {detail}")


db = Database(domain, client_id)
email = f"py-{uuid.uuid4().hex[:8]}@Example.com"
res = db.signup(
    email=email,
    password="Passw0rd!",
    connection=connection,
    given_name="Py",
    family_name="Thon",
    user_metadata={"plan": "silver"},
)
check("signup returns the new user", len(res.get("_id", "")) == 24 and res["email"] == email.lower(), res)
check("signup echoes user_metadata", res.get("user_metadata") == {"plan": "silver"}, res)
check("signup never echoes the password", "Passw0rd!" not in str(res), res)

try:
    db.signup(email=email, password="Passw0rd!", connection=connection)
    check("duplicate signup raises", False)
except Auth0Error as e:
    check("duplicate signup raises user_exists", e.status_code == 400 and e.error_code == "user_exists", vars(e))

try:
    db.signup(email=f"weak-{email}", password="weak", connection=connection)
    check("weak password raises", False)
except Auth0Error as e:
    check(
        "weak password raises invalid_password",
        e.status_code == 400 and e.error_code == "invalid_password",
        vars(e),
    )

print(f"python: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
