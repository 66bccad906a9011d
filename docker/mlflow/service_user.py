"""Create or update assay's MLflow service account on a basic-auth server (compose's airflow-init).

The Airflow tasks reach MLflow as ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (MLflow's
own client reads both). This makes that account exist, with that password, as an MLflow admin: the
gate moves aliases and tags versions of models that someone else may have created. It acts as the
bootstrap admin ``MLFLOW_AUTH_ADMIN_USERNAME`` / ``MLFLOW_AUTH_ADMIN_PASSWORD``, which only the
one-shot airflow-init job holds. Idempotent: run on every start, .env stays the source of truth.

    python docker/mlflow/service_user.py      # exit 0: ready; 1: a variable is missing; 2: MLflow said no
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import requests

API = "/api/2.0/mlflow/users"
TIMEOUT_S = 30


def ensure_service_user(uri: str, admin: tuple[str, str], user: str, password: str) -> str:
    """Create ``user`` (or reset its password) and make it an admin; returns what was done."""
    base = uri.rstrip("/")
    with requests.Session() as http:
        http.auth = admin
        found = http.get(f"{base}{API}/get", params={"username": user}, timeout=TIMEOUT_S)
        if found.status_code == 404:
            http.post(f"{base}{API}/create", json={"username": user, "password": password},
                      timeout=TIMEOUT_S).raise_for_status()
            done = "created"
        else:
            found.raise_for_status()
            http.patch(f"{base}{API}/update-password", json={"username": user, "password": password},
                       timeout=TIMEOUT_S).raise_for_status()
            done = "updated"
        http.patch(f"{base}{API}/update-admin", json={"username": user, "is_admin": True},
                   timeout=TIMEOUT_S).raise_for_status()
    return done


def main(env: Mapping[str, str]) -> int:
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    missing = [n for n in names if not env.get(n)]
    if missing:
        print(f"service_user: {', '.join(missing)} not set; see docs/mlflow-auth.md", file=sys.stderr)
        return 1
    admin = (env.get("MLFLOW_AUTH_ADMIN_USERNAME") or "admin", env["MLFLOW_AUTH_ADMIN_PASSWORD"])
    user = env["MLFLOW_TRACKING_USERNAME"]
    if user == admin[0]:
        print(f"service_user: tasks use the admin account {user!r}; nothing to create")
        return 0
    try:
        done = ensure_service_user(env["MLFLOW_TRACKING_URI"], admin, user, env["MLFLOW_TRACKING_PASSWORD"])
    except requests.RequestException as exc:
        status = getattr(exc.response, "status_code", None)
        hint = " (the admin password in .env does not match the one MLflow stored)" if status == 401 else ""
        print(f"service_user: MLflow refused to set up {user!r}: {exc}{hint}", file=sys.stderr)
        return 2
    print(f"service_user: MLflow account {user!r} {done} (admin)")
    return 0


if __name__ == "__main__":
    # A container entry script outside the assay package: it has no Settings to be handed.
    sys.exit(main(os.environ))  # noqa: TID251
