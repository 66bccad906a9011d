"""Who may read and who may act, decided by Airflow itself: the steward app mounted by Airflow's own
``create_app`` (in a subprocess with a config of the test: SimpleAuthManager with a viewer, a user,
an op and an admin; a fresh metadata database; an empty migrated catalog).

Reading needs a login (any role); acting needs ``requires_access_asset("PUT")`` -- Op or Admin with the
simple auth manager -- and the form token of the same user's session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

USERS = {"admin": "admin", "viewer": "viewer", "user": "user", "op": "op"}

_ASK = r'''
import json, re, sys
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app

passwords = json.loads(sys.argv[1])
client = TestClient(create_app("core"), base_url="http://airflow.test")
out = {}

def token(user):
    r = client.post("/auth/token", json={"username": user, "password": passwords[user]})
    return r.json()["access_token"]

def ask(name, method, path, tok=None, headers=None, **kw):
    headers = {**(headers or {}), **({"Authorization": f"Bearer {tok}"} if tok else {})}
    r = client.request(method, path, headers=headers, follow_redirects=False, **kw)
    out[name] = {"status": r.status_code, "text": r.text[:1500]}
    return r

def csrf(tok):
    html = ask("_form", "GET", "/assay/waivers", tok).text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)

tokens = {u: token(u) for u in passwords}
for page in ("assets", "quality", "review", "waivers", "suites", "models", "audit"):
    ask(f"anon_{page}", "GET", f"/assay/{page}")
    for u in passwords:
        ask(f"{u}_{page}", "GET", f"/assay/{page}", tokens[u])
ask("anon_post", "POST", "/assay/review/999999/acknowledge", data={"csrf": "x"})
for u in passwords:
    ask(f"{u}_post", "POST", "/assay/review/999999/acknowledge", tokens[u], data={"csrf": csrf(tokens[u])})
ask("op_post_no_token", "POST", "/assay/review/999999/acknowledge", tokens["op"], data={})
ask("op_post_viewer_token", "POST", "/assay/review/999999/acknowledge", tokens["op"],
    data={"csrf": csrf(tokens["viewer"])})
ask("op_post_cross_site", "POST", "/assay/review/999999/acknowledge", tokens["op"],
    data={"csrf": csrf(tokens["op"])}, headers={"Origin": "http://evil.test"})
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def asked(tmp_path_factory, pg_server) -> dict[str, dict]:
    from support.airflow import AIRFLOW
    from support.db import scratch_database

    from assay.catalog import migrate
    from assay.config import Settings

    folder = tmp_path_factory.mktemp("stewauth")
    with scratch_database(pg_server, "stwaaf") as airflow_db, scratch_database(pg_server, "stwacat") as catalog:
        migrate.upgrade(catalog, "head")
        s = Settings(home=folder / "state", database_url=catalog, shop_url=catalog,
                     mlflow_tracking_uri=catalog).model_copy(update={"airflow_sql_alchemy_conn": airflow_db})
        passwords = {u: f"pw-{u}-test-only" for u in USERS}
        pw_file = folder / "passwords.json"
        pw_file.write_text(json.dumps(passwords))
        pw_file.chmod(0o600)
        env = {
            **os.environ, **s.airflow_env(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
            "AIRFLOW__API_AUTH__JWT_SECRET": "test-only-jwt-secret-of-some-length-0123456789",
            "AIRFLOW__API__SECRET_KEY": "test-only-secret-key",
        }
        subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
        done = subprocess.run([sys.executable, "-c", _ASK, json.dumps(passwords)], env=env,
                              capture_output=True, text=True, timeout=600)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, done.stderr[-3000:]
        return json.loads(line.removeprefix("RESULT "))


PAGES = ("assets", "quality", "review", "waivers", "suites", "models", "audit")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_needs_a_login_and_any_role_reads_it(asked, page):
    assert asked[f"anon_{page}"]["status"] == 401
    for user in USERS:
        r = asked[f"{user}_{page}"]
        assert r["status"] == 200, (user, page, r["text"][:300])
        assert f"Signed in as {user}" in r["text"]


def test_only_op_and_admin_may_act(asked):
    assert asked["anon_post"]["status"] == 401
    assert asked["viewer_post"]["status"] == 403
    assert asked["user_post"]["status"] == 403
    # Op and Admin pass Airflow's check and the token check; the service then refuses the unknown item.
    for user in ("op", "admin"):
        r = asked[f"{user}_post"]
        assert r["status"] == 400 and "999999" in r["text"], (user, r)


def test_an_action_needs_this_user_s_token_from_this_site(asked):
    assert asked["op_post_no_token"]["status"] == 403
    assert asked["op_post_viewer_token"]["status"] == 403
    assert asked["op_post_cross_site"]["status"] == 403
