"""auth0-python 6.8's ManagementClient (its token fetched with GetToken.client_credentials)
against a started latchkey over HTTPS: users CRUD, search with include_totals (the pager reads
the object shape), list_users_by_email, and errors as the SDK's ApiError with status and code."""

import os
import sys
import time

from auth0.authentication import GetToken
from auth0.management import ManagementClient
from auth0.management.core.api_error import ApiError

domain = os.environ["LK_DOMAIN"]
connection = os.environ["LK_CONNECTION"]
passed, failures = 0, []


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
        print(f"  ok   python-management: {name}")
    else:
        failures.append(name)
        print(f"  FAIL python-management: {name} {detail!r}")


def rejects(name, fn, status, code):
    try:
        fn()
        check(name, False, "no error")
    except ApiError as e:
        body = e.body if isinstance(e.body, dict) else {}
        check(name, e.status_code == status and body.get("errorCode") == code, (e.status_code, e.body))


try:
    token = GetToken(domain, os.environ["LK_CLIENT_ID"], client_secret=os.environ["LK_CLIENT_SECRET"])
    access = token.client_credentials(f"https://{domain}/api/v2/")["access_token"]
    mgmt = ManagementClient(domain=domain, token=access)
    stamp = int(time.time() * 1000)
    email = f"py-mgmt-{stamp}@example.com"
    user = mgmt.users.create(connection=connection, email=email, password="Passw0rd!",
                             app_metadata={"team": "py"}, verify_email=False)
    check("users.create answers the user", user.email == email and user.user_id.startswith("auth0|"), user)
    got = mgmt.users.get(user.user_id)
    check("users.get reads it", got.app_metadata == {"team": "py"}, got)
    changed = mgmt.users.update(user.user_id, app_metadata={"team": None, "role": "admin"})
    check("users.update merges app_metadata", changed.app_metadata == {"role": "admin"}, changed)
    pager = mgmt.users.list(q=f'email:"{email}"', include_totals=True)
    found = list(pager)
    check("users.list with include_totals finds it",
          pager.response.total == 1 and [u.email for u in found] == [email], pager.response)
    by_email = mgmt.users.list_users_by_email(email=email.upper())
    check("list_users_by_email finds it", [u.user_id for u in by_email] == [user.user_id], by_email)
    # auth0-python retries a 409 twice; every attempt must answer 409.
    rejects("a duplicate is a 409 auth0_idp_error",
            lambda: mgmt.users.create(connection=connection, email=email, password="Passw0rd!"),
            409, "auth0_idp_error")
    rejects("a bad q is a 400 invalid_query_string",
            lambda: list(mgmt.users.list(q="email:(", include_totals=True)), 400, "invalid_query_string")
    mgmt.users.delete(user.user_id)
    rejects("a deleted user is a 404 inexistent_user", lambda: mgmt.users.get(user.user_id),
            404, "inexistent_user")
except Exception as e:  # noqa: BLE001 - any failure is a test failure, reported
    failures.append(f"exception: {e!r}")
    print(f"  FAIL python-management: {e!r}")

print(f"python-management: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
