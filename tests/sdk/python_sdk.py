"""auth0-python's Database, GetToken, Users and TokenVerifier against a started latchkey (HTTPS,
private CA via REQUESTS_CA_BUNDLE)."""

import os
import sys
import uuid

from auth0.authentication import Database, GetToken, Users
from auth0.authentication.exceptions import Auth0Error
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier, TokenVerifier

domain = os.environ["LK_DOMAIN"]
client_id = os.environ["LK_CLIENT_ID"]
client_secret = os.environ["LK_CLIENT_SECRET"]
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


def attempt(name, fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - report any failure as a failed check
        check(name, False, repr(e))
        return None


# Login: GetToken.login sends JSON with explicit nulls (realm=None means the default directory).
token = GetToken(domain, client_id, client_secret=client_secret)
tokens = attempt(
    "GetToken.login",
    lambda: token.login(email, "Passw0rd!", scope="openid profile email offline_access"),
)
if tokens:
    check(
        "login returns access, id and refresh tokens",
        all(tokens.get(k) for k in ("access_token", "id_token", "refresh_token"))
        and tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86400,
        tokens,
    )
    verifier = TokenVerifier(
        signature_verifier=AsymmetricSignatureVerifier(f"https://{domain}/.well-known/jwks.json"),
        issuer=f"https://{domain}/",
        audience=client_id,
    )
    claims = attempt("TokenVerifier.verify", lambda: verifier.verify(tokens["id_token"]))
    if claims:
        check("the id_token verifies and names the user", claims["email"] == email.lower(), claims)
    refreshed = attempt("GetToken.refresh_token", lambda: token.refresh_token(tokens["refresh_token"]))
    if refreshed:
        check(
            "refresh_token rotates the refresh token",
            refreshed.get("refresh_token") and refreshed["refresh_token"] != tokens["refresh_token"],
            refreshed,
        )
    info = attempt("Users.userinfo", lambda: Users(domain).userinfo(tokens["access_token"]))
    if info:
        check("userinfo returns the profile", info.get("email") == email.lower() and info["sub"].startswith("auth0|"), info)

try:
    token.login(email, "wrong-password", realm=connection)
    check("wrong password raises", False)
except Auth0Error as e:
    check(
        "wrong password raises invalid_grant with Auth0's text",
        e.status_code == 403 and e.error_code == "invalid_grant" and e.message == "Wrong email or password.",
        vars(e),
    )

# A backend passing its user's IP (auth0-forwarded-for; the client is trusted with it): ten
# failures block that IP for this user, not the backend's own address nor another user IP.
fwd_email = f"fwd-{uuid.uuid4().hex[:8]}@example.com"
db.signup(email=fwd_email, password="Passw0rd!", connection=connection)


def login_from(ip, password):
    try:
        token.login(fwd_email, password, realm=connection, forwarded_for=ip)
        return 200, None
    except Auth0Error as e:
        return e.status_code, e.error_code


failed = [login_from("203.0.113.50", "wrong-password") for _ in range(10)]
check("ten wrong passwords with forwarded_for are refused", failed == [(403, "invalid_grant")] * 10, failed)
check(
    "forwarded_for: the reported IP is blocked",
    login_from("203.0.113.50", "Passw0rd!") == (429, "too_many_attempts"),
)
check("forwarded_for: another reported IP still logs in", login_from("203.0.113.51", "Passw0rd!") == (200, None))
check(
    "forwarded_for: the backend's own address was not counted",
    attempt("GetToken.login without forwarded_for", lambda: token.login(fwd_email, "Passw0rd!", realm=connection))
    is not None,
)

machine = attempt(
    "GetToken.client_credentials",
    lambda: token.client_credentials(f"https://{domain}/api/v2/"),
)
if machine:
    check("client_credentials returns an access token", bool(machine.get("access_token")), machine)

print(f"python: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
