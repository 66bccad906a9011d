"""Static checks of the container stack: docker-compose.yaml, Dockerfile and .env.example.

CI has no Docker engine, so ``docker compose config`` cannot run there. These tests validate the
compose file against the Compose Specification's JSON schema (vendored in docker/schema/), parse
the files with PyYAML and check what a broken stack would get wrong: missing services or health
checks, a start order that deadlocks or races, volumes that lose data, GPU work landing on the CPU
worker, credentials written into the files, an init job that forgets the ``gpu`` pool, the roles
or MLflow's service account, and an MLflow server anyone can write to without a login. Each checker is a plain function of the parsed
file that returns what it found wrong, and each has a test that feeds it a broken copy.
"""

from __future__ import annotations

import copy
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
INITDB_SQL = ROOT / "docker" / "initdb" / "01-databases.sql"
#: The Compose Specification's JSON schema, vendored (docker/schema/README.md says from where).
COMPOSE_SCHEMA = ROOT / "docker" / "schema" / "compose-spec.json"
SCHEMA_README = ROOT / "docker" / "schema" / "README.md"

#: Airflow components that run continuously; each needs the DBs, the broker and the migrations.
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-worker-gpu",
)
EXPECTED_SERVICES = frozenset({"postgres", "redis", "airflow-init", "mlflow", *AIRFLOW_SERVICES})
#: Services others wait on with ``service_healthy``, or that a person opens in a browser.
HEALTHCHECKED = ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "mlflow")
DATABASES = ("airflow", "assay", "mlflow", "shop")

SECRET_NAME = re.compile(
    r"passw(?:or)?d|pwd|secret|fernet|token|api[_-]?key|private[_-]?key|credential", re.IGNORECASE
)
#: ``${VAR}``, ``${VAR?msg}`` or ``${VAR:?msg}``: a reference with no literal fallback value.
REQUIRED_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}")
_INTERP_TOKEN = r"\$\{[^}]*\}"
URL_CREDENTIALS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://"
    rf"(?P<user>(?:{_INTERP_TOKEN}|[^/\s:@$])*)"
    rf":(?P<password>(?:{_INTERP_TOKEN}|[^@\s$/])*)@"
)
ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|[^\s;&|)]+)")
FLAG_VALUE = re.compile(r"--(?P<name>[A-Za-z0-9_-]+)\s+(?P<value>[^\s-][^\s]*)")
VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


# ---- loading ----------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one).

    Keys brought in by a ``<<`` merge may be overridden, as compose allows; only keys written
    twice in the same mapping are errors.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_compose(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    assert isinstance(data, dict), "compose file must be a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return parse_compose(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def env_example() -> str:
    return ENV_EXAMPLE.read_text()


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


# ---- helpers ----------------------------------------------------------------------------------
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose.get("services") or {}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """``depends_on`` as {service: condition}; the short list form means ``service_started``."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def command_words(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(word) for word in cmd]


def worker_queues(service: dict[str, Any]) -> set[str]:
    """Queues a ``celery worker`` consumes; Airflow's default queue when no -q/--queues is given."""
    words = command_words(service)
    queues: set[str] = set()
    for i, word in enumerate(words):
        if word in ("-q", "--queues") and i + 1 < len(words):
            queues.update(q.strip() for q in words[i + 1].split(",") if q.strip())
        elif word.startswith("--queues="):
            queues.update(q.strip() for q in word.split("=", 1)[1].split(",") if q.strip())
    return queues or {"default"}


def named_mounts(service: dict[str, Any]) -> dict[str, str]:
    """{container path: volume name} for the named volumes of a service (bind mounts excluded)."""
    mounts: dict[str, str] = {}
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            if vol.get("type", "volume") == "volume" and vol.get("source"):
                mounts[vol["target"]] = vol["source"]
            continue
        parts = str(vol).split(":")
        if len(parts) < 2:
            continue  # anonymous volume
        source, target = parts[0], parts[1]
        if source and not source.startswith((".", "/", "~", "$")) and "/" not in source:
            mounts[target] = source
    return mounts


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Yield (path, key, value) for every mapping entry and (path, None, item) for list items."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, key, value
            yield from walk(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            here = f"{path}[{i}]"
            yield here, None, item
            yield from walk(item, here)


def strings(node: Any) -> Iterator[tuple[str, str]]:
    """Every scalar value in the document as (path, text); keys are not interpolated by compose."""
    for path, _key, value in walk(node):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            yield path, str(value)


def _is_required_ref(value: str) -> bool:
    return REQUIRED_REF.fullmatch(value) is not None


def _literal(value: str) -> bool:
    """True when a secret-named value is written into the file instead of referenced."""
    value = value.strip().strip("'\"")
    return bool(value) and not _is_required_ref(value)


# ---- checkers ---------------------------------------------------------------------------------
def missing_services(compose: dict[str, Any], expected: frozenset[str] = EXPECTED_SERVICES) -> list[str]:
    return sorted(expected - set(services(compose)))


def missing_healthchecks(compose: dict[str, Any], names: tuple[str, ...] = HEALTHCHECKED) -> list[str]:
    """Services among ``names`` (and every ``service_healthy`` target) without a working check."""
    svcs = services(compose)
    wanted = set(names)
    for svc in svcs.values():
        wanted.update(dep for dep, cond in depends_on(svc).items() if cond == "service_healthy")
    missing = []
    for name in sorted(wanted):
        check = (svcs.get(name) or {}).get("healthcheck") or {}
        test = check.get("test")
        if (
            check.get("disable")
            or not test
            or test == ["NONE"]
            or (isinstance(test, list) and test[0] == "NONE")
        ):
            missing.append(name)
    return missing


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    """Start-order rules: DBs and broker healthy, migrations finished, one-shot jobs not restarted."""
    svcs = services(compose)
    problems: list[str] = []
    required = {
        name: {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "airflow-init": "service_completed_successfully",
        }
        for name in AIRFLOW_SERVICES
    }
    required["airflow-init"] = {"postgres": "service_healthy"}
    required["mlflow"] = {"postgres": "service_healthy"}
    for name, needs in required.items():
        if name not in svcs:
            continue  # reported by missing_services
        deps = depends_on(svcs[name])
        for dep, condition in needs.items():
            if deps.get(dep) != condition:
                problems.append(f"{name} must depend on {dep} with {condition} (has {deps.get(dep)})")
    for name, svc in svcs.items():
        for dep, condition in depends_on(svc).items():
            if dep not in svcs:
                problems.append(f"{name} depends on unknown service {dep}")
            elif condition == "service_completed_successfully" and str(
                svcs[dep].get("restart", "no")
            ) not in ("no", "on-failure"):
                problems.append(f"{dep} is awaited to complete but restarts ({svcs[dep].get('restart')})")
    return problems


def dependency_cycle(compose: dict[str, Any]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None when the graph is acyclic."""
    graph = {name: list(depends_on(svc)) for name, svc in services(compose).items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def topological_order(compose: dict[str, Any]) -> list[str]:
    """Services in a valid start order (dependencies first); ValueError on a cycle."""
    graph = {name: set(depends_on(svc)) & set(services(compose)) for name, svc in services(compose).items()}
    order: list[str] = []
    ready = sorted(name for name, deps in graph.items() if not deps)
    while ready:
        node = ready.pop(0)
        order.append(node)
        for name, deps in graph.items():
            if node in deps:
                deps.discard(node)
                if not deps and name not in order and name not in ready:
                    ready.append(name)
        ready.sort()
    if len(order) != len(graph):
        raise ValueError(f"dependency cycle among {sorted(set(graph) - set(order))}")
    return order


def volume_problems(compose: dict[str, Any]) -> list[str]:
    """Named volumes used but not declared (or declared but unused), and state that would be lost."""
    declared = set((compose.get("volumes") or {}).keys())
    used: dict[str, str] = {}
    for name, svc in services(compose).items():
        for target, vol in named_mounts(svc).items():
            used.setdefault(vol, f"{name}:{target}")
    problems = [
        f"volume {vol} ({where}) is not declared"
        for vol, where in sorted(used.items())
        if vol not in declared
    ]
    problems += [f"volume {vol} is declared but unused" for vol in sorted(declared - set(used))]
    persistent = {
        "postgres": "/var/lib/postgresql/data",
        "mlflow": "/mlartifacts",
        "airflow-apiserver": "/opt/airflow/logs",
        "airflow-worker": "/opt/airflow/logs",
    }
    for name, target in persistent.items():
        if target not in named_mounts(services(compose).get(name) or {}):
            problems.append(f"{name} keeps {target} outside a named volume")
    return problems


def gpu_routing_problems(compose: dict[str, Any]) -> list[str]:
    """The GPU worker consumes ``gpu`` and reserves NVIDIA GPUs; the CPU worker never takes ``gpu``."""
    svcs = services(compose)
    problems: list[str] = []
    gpu = svcs.get("airflow-worker-gpu") or {}
    if "gpu" not in worker_queues(gpu):
        problems.append("airflow-worker-gpu does not consume the gpu queue")
    devices = (((gpu.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get(
        "devices"
    ) or []
    if not any(d.get("driver") == "nvidia" and "gpu" in (d.get("capabilities") or []) for d in devices):
        problems.append("airflow-worker-gpu reserves no nvidia device with capability gpu")
    build = gpu.get("build")
    args = build.get("args", {}) if isinstance(build, dict) else {}
    if not {"TORCH_INDEX_URL", "TORCH_SPEC"} & set(args):
        problems.append("airflow-worker-gpu does not choose its torch build (TORCH_INDEX_URL/TORCH_SPEC)")
    cpu = svcs.get("airflow-worker") or {}
    if "gpu" in worker_queues(cpu):
        problems.append("airflow-worker consumes the gpu queue")
    if "default" not in worker_queues(cpu):
        problems.append("airflow-worker does not consume the default queue")
    return problems


def find_literal_secrets(compose: dict[str, Any]) -> list[str]:
    """Credentials written into the file rather than interpolated from .env.

    Flags secret-named keys (password, secret, fernet, token, api key ...) whose value is not a
    bare ``${VAR}`` / ``${VAR:?msg}`` (a ``${VAR:-default}`` fallback is a literal secret too),
    ``NAME=value`` and ``--name value`` inside strings (list-form environment, commands), and
    URL credentials ``scheme://user:password@`` whose password is not such a reference.
    """
    found: list[str] = []
    for path, key, value in walk(compose):
        if (
            isinstance(key, str)
            and SECRET_NAME.search(key)
            and isinstance(value, str | int | float)
            and _literal(str(value))
        ):
            found.append(f"{path}: literal value for {key}")
    for path, text in strings(compose):
        for m in URL_CREDENTIALS.finditer(text):
            if m["password"] and not _is_required_ref(m["password"]):
                found.append(f"{path}: literal credentials in URL {m.group(0)!r}")
        for regex in (ASSIGNMENT, FLAG_VALUE):
            for m in regex.finditer(text):
                if SECRET_NAME.search(m["name"]) and _literal(m["value"]):
                    found.append(f"{path}: literal value for {m['name']}")
    # Exec-form commands split a flag from its value: ["--api-token", "abc"].
    for path, _key, value in walk(compose):
        if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            for m in FLAG_VALUE.finditer(" ".join(str(v) for v in value)):
                if SECRET_NAME.search(m["name"]) and _literal(m["value"]):
                    found.append(f"{path}: literal value for {m['name']}")
    return list(dict.fromkeys(found))


def interpolated_variables(compose: dict[str, Any]) -> set[str]:
    """Every variable compose interpolates (``$$`` is compose's escape for a literal ``$``)."""
    names: set[str] = set()
    for _path, text in strings(compose):
        for m in VARIABLE.finditer(text.replace("$$", "")):
            names.add(m["braced"] or m["bare"])
    return names


def env_example_variables(text: str) -> dict[str, str]:
    """Active ``NAME=value`` lines of an env file (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        out[name.removeprefix("export ").strip()] = value.strip()
    return out


def missing_env_vars(compose: dict[str, Any], env_text: str) -> list[str]:
    return sorted(interpolated_variables(compose) - set(env_example_variables(env_text)))


def env_example_problems(text: str) -> list[str]:
    """Secret placeholders in .env.example must be obviously fake (start with ``change-me``)."""
    problems = []
    for name, value in env_example_variables(text).items():
        if SECRET_NAME.search(name) and not value.strip("'\"").startswith("change-me"):
            problems.append(f"{name} has a real-looking value; use a change-me placeholder")
    for m in URL_CREDENTIALS.finditer(text):
        if m["password"] and "change-me" not in m["password"] and not _is_required_ref(m["password"]):
            problems.append(f"URL with real-looking credentials: {m.group(0)!r}")
    return problems


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    if buf:
        logical.append(buf)
    pairs = []
    for line in logical:
        instr, _, args = line.partition(" ")
        pairs.append((instr.upper(), args.strip()))
    return pairs


def _env_pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy ``ENV NAME value``
        return {words[0]: " ".join(words[1:])}
    return dict(w.split("=", 1) if "=" in w else (w, "") for w in words)


def dockerfile_problems(text: str) -> list[str]:
    """Base image, runtime user, required environment and no baked-in secrets."""
    instrs = dockerfile_instructions(text)
    problems: list[str] = []
    froms = [i for i, (instr, _) in enumerate(instrs) if instr == "FROM"]
    if not froms:
        return ["no FROM line"]
    final = instrs[froms[-1] :]
    base = final[0][1].split()
    base_image = next((w for w in base if not w.startswith("--")), "")
    if not re.fullmatch(r"(docker\.io/(library/)?)?python:3\.11([.-].*)?", base_image):
        problems.append(f"final stage is based on {base_image!r}, not python:3.11")
    users = [args.split(":")[0].strip() for instr, args in final if instr == "USER"]
    if not users:
        problems.append("no USER line: the image runs as root")
    elif users[-1] in ("root", "0"):
        problems.append(f"the image runs as {users[-1]}")
    env: dict[str, str] = {}
    for instr, args in instrs:
        if instr in ("ENV", "ARG"):
            pairs = _env_pairs(args)
            if instr == "ENV":
                env.update(pairs)
            problems += [
                f"{instr} {name} bakes a secret into the image"
                for name, value in pairs.items()
                if SECRET_NAME.search(name) and value and not value.startswith("$")
            ]
    expected_env = {
        "AIRFLOW_HOME": "/opt/airflow",
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    problems += [
        f"ENV {name} should be {value!r} (is {env.get(name)!r})"
        for name, value in expected_env.items()
        if env.get(name) != value
    ]
    return problems


def dockerfile_build_args(text: str) -> set[str]:
    return {args.split("=", 1)[0].strip() for instr, args in dockerfile_instructions(text) if instr == "ARG"}


def airflow_env_problems(compose: dict[str, Any]) -> list[str]:
    """Settings every Airflow container needs, and secrets taken only as required variables."""
    expected = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": "redis://redis:6379/0",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-apiserver:8080/execution/",
    }
    # The catalog (ASSAY_DATABASE_URL) is written as assay_writer: see role_problems.
    with_db_credentials = (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__RESULT_BACKEND",
    )
    required_secrets = (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
    )
    problems: list[str] = []
    for name in ("airflow-init", *AIRFLOW_SERVICES):
        svc = services(compose).get(name)
        if svc is None:
            continue
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
        for key, value in expected.items():
            if str(env.get(key, "")).lower() != value.lower():
                problems.append(f"{name}: {key} should be {value} (is {env.get(key)!r})")
        for key in with_db_credentials:
            value = str(env.get(key, ""))
            if "${POSTGRES_USER}" not in value or "${POSTGRES_PASSWORD}" not in value:
                problems.append(
                    f"{name}: {key} must take credentials from ${{POSTGRES_USER}}/${{POSTGRES_PASSWORD}}"
                )
        for key in required_secrets:
            if not re.fullmatch(r"\$\{[A-Za-z_]\w*:\?[^}]+\}", str(env.get(key, ""))):
                problems.append(f"{name}: {key} must be a required variable ${{VAR:?...}}")
        if "MLFLOW_TRACKING_URI" not in env:
            problems.append(f"{name}: MLFLOW_TRACKING_URI is not set")
    return problems


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def role_problems(compose: dict[str, Any]) -> list[str]:
    """Least privilege: airflow-init creates the roles; tasks write the catalog and read sources through them."""
    from assay.config import READER_ROLE, WRITER_ROLE

    svcs = services(compose)
    problems: list[str] = []
    init = svcs.get("airflow-init") or {}
    words = " ".join(command_words(init))
    setup, migrate = words.find("python -m assay.db.roles"), words.find("assay catalog migrate")
    if setup < 0:
        problems.append("airflow-init does not create the roles (python -m assay.db.roles)")
    elif migrate >= 0 and migrate < setup:
        problems.append("airflow-init migrates the catalog before the writer role exists")
    admin = _env(init).get("ASSAY_ADMIN_URL", "")
    if "${POSTGRES_USER}" not in admin or "${POSTGRES_PASSWORD}" not in admin:
        problems.append("airflow-init: ASSAY_ADMIN_URL must take the superuser's ${POSTGRES_USER}/${POSTGRES_PASSWORD}")
    for name in ("airflow-init", *AIRFLOW_SERVICES):
        if name not in svcs:
            continue
        env = _env(svcs[name])
        if name != "airflow-init" and "ASSAY_ADMIN_URL" in env:
            problems.append(f"{name}: holds ASSAY_ADMIN_URL (a superuser URL only airflow-init needs)")
        for key, role, secret in (
            ("ASSAY_DATABASE_URL", WRITER_ROLE, "ASSAY_WRITER_PASSWORD"),
            ("ASSAY_SHOP_READER_URL", READER_ROLE, "ASSAY_READER_PASSWORD"),
        ):
            m = URL_CREDENTIALS.search(env.get(key, ""))
            if m is None or m["user"] != role or not m["password"].startswith("${" + secret):
                problems.append(f"{name}: {key} must log in as {role} with ${{{secret}}}")
    return problems


def schema_errors(compose: dict[str, Any], schema_path: Path = COMPOSE_SCHEMA) -> list[str]:
    """Violations of the Compose Specification's JSON schema, as ``path: message``.

    Compose validates after interpolation; ``${VAR}`` strings stand where the schema allows strings,
    which this file keeps to (numbers are written as numbers or quoted only where strings are allowed).
    """
    import json

    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(schema_path.read_text()))
    errors = sorted(validator.iter_errors(compose), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<top>'}: {e.message}" for e in errors]


def mlflow_server_words(service: dict[str, Any]) -> list[str]:
    """The words of the ``mlflow server`` invocation: the command itself, or its line in a ``bash -c`` script."""
    words = command_words(service)
    if words[:2] == ["mlflow", "server"]:
        return words
    if len(words) >= 3 and words[0] in ("bash", "sh") and words[1] == "-c":
        script = words[2].replace("\\\n", " ")
        for line in script.splitlines():
            parts = shlex.split(line, comments=True)
            if parts[:1] == ["exec"]:
                parts = parts[1:]
            if parts[:2] == ["mlflow", "server"]:
                return parts
    return []


def init_problems(compose: dict[str, Any]) -> list[str]:
    """airflow-init: migrates Airflow, then creates the ``gpu`` pool, the roles, the catalog and MLflow's account."""
    from assay.names import GPU_POOL

    init = services(compose).get("airflow-init") or {}
    script = " ".join(command_words(init))
    problems: list[str] = []
    migrate = script.find("airflow db migrate")
    pool = script.find("airflow pools set")
    if pool < 0:
        problems.append("airflow-init does not create the gpu pool (airflow pools set)")
    else:
        if migrate < 0 or pool < migrate:
            problems.append("airflow-init sets the pool before `airflow db migrate`")
        named = script[pool:].split("\n")[0]
        if f"pools set {GPU_POOL} " not in named and "import GPU_POOL" not in script:
            problems.append(f"airflow-init: the pool must be assay.names.GPU_POOL ({GPU_POOL!r})")
    if "docker/mlflow/service_user.py" not in script:
        problems.append("airflow-init does not create assay's MLflow account (docker/mlflow/service_user.py)")
    if depends_on(init).get("mlflow") != "service_healthy":
        problems.append("airflow-init must wait for mlflow (service_healthy) to create the account")
    return problems


def _mounted_file(service: dict[str, Any], target: str) -> Path | None:
    """The repository file bind-mounted at ``target`` in a service, if any."""
    for vol in service.get("volumes") or []:
        parts = str(vol).split(":")
        if len(parts) >= 2 and parts[1] == target and parts[0].startswith("./"):
            return ROOT / parts[0][2:]
    return None


def mlflow_auth_problems(compose: dict[str, Any]) -> list[str]:
    """MLflow needs a login: the basic-auth app, a secret-free auth config, and credentials for every task."""
    import configparser

    svcs = services(compose)
    problems: list[str] = []
    mlflow = svcs.get("mlflow") or {}
    words = mlflow_server_words(mlflow)
    if "--app-name" not in words or words[words.index("--app-name") + 1 : words.index("--app-name") + 2] != [
        "basic-auth"
    ]:
        problems.append("mlflow does not run the basic-auth app (--app-name basic-auth)")
    env = _env(mlflow)
    for key in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        if not re.fullmatch(r"\$\{[A-Za-z_]\w*:\?[^}]+\}", env.get(key, "")):
            problems.append(f"mlflow: {key} must be a required variable ${{VAR:?...}}")
    config_path = env.get("MLFLOW_AUTH_CONFIG_PATH", "")
    ini = _mounted_file(mlflow, config_path) if config_path else None
    if ini is None or not ini.is_file():
        problems.append("mlflow: MLFLOW_AUTH_CONFIG_PATH must name an auth config mounted from the repository")
    else:
        cfg = configparser.ConfigParser()
        cfg.read(ini)
        section = cfg["mlflow"] if cfg.has_section("mlflow") else {}
        if section.get("admin_password"):
            problems.append(f"{ini.relative_to(ROOT)}: admin_password is written in the file")
        if section.get("default_permission", "").upper() not in ("READ", "NO_PERMISSIONS"):
            problems.append(f"{ini.relative_to(ROOT)}: default_permission lets every account edit")
        store = section.get("database_uri", "")
        folder = store.removeprefix("sqlite:///").rsplit("/", 1)[0] if store.startswith("sqlite:") else ""
        if store.startswith("sqlite:") and folder not in named_mounts(mlflow):
            problems.append(f"mlflow: the user store {store} is not on a named volume")
    for name in AIRFLOW_SERVICES:
        if name not in svcs:
            continue
        env = _env(svcs[name])
        if not env.get("MLFLOW_TRACKING_USERNAME"):
            problems.append(f"{name}: MLFLOW_TRACKING_USERNAME is not set (tasks get 401 from MLflow)")
        if not re.fullmatch(r"\$\{[A-Za-z_]\w*:\?[^}]+\}", env.get("MLFLOW_TRACKING_PASSWORD", "")):
            problems.append(f"{name}: MLFLOW_TRACKING_PASSWORD must be a required variable ${{VAR:?...}}")
        if "MLFLOW_AUTH_ADMIN_PASSWORD" in env:
            problems.append(f"{name}: holds MLflow's admin password (only airflow-init needs it)")
    return problems


# ---- the real files ---------------------------------------------------------------------------
def test_compose_file_has_no_duplicate_keys() -> None:
    parse_compose(COMPOSE_FILE.read_text())  # raises on a duplicate key


def test_expected_services_exist(compose: dict[str, Any]) -> None:
    assert missing_services(compose) == []


def test_services_have_healthchecks(compose: dict[str, Any]) -> None:
    assert missing_healthchecks(compose) == []


def test_dependency_order(compose: dict[str, Any]) -> None:
    assert dependency_problems(compose) == []
    assert dependency_cycle(compose) is None
    order = topological_order(compose)
    assert set(order) == set(services(compose))
    for name, svc in services(compose).items():
        for dep in depends_on(svc):
            assert order.index(dep) < order.index(name), f"{dep} must start before {name}"
    assert order.index("airflow-init") < min(order.index(name) for name in AIRFLOW_SERVICES)


def test_named_volumes_declared_and_used(compose: dict[str, Any]) -> None:
    assert volume_problems(compose) == []
    declared = set(compose["volumes"])
    assert named_mounts(services(compose)["postgres"])["/var/lib/postgresql/data"] in declared
    assert named_mounts(services(compose)["mlflow"])["/mlartifacts"] in declared


def test_gpu_work_is_routed_to_the_gpu_worker(compose: dict[str, Any]) -> None:
    assert gpu_routing_problems(compose) == []
    assert worker_queues(services(compose)["airflow-worker-gpu"]) == {"gpu"}


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    assert find_literal_secrets(compose) == []


def test_every_interpolated_variable_is_in_env_example(compose: dict[str, Any], env_example: str) -> None:
    referenced = interpolated_variables(compose)
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD"} <= referenced
    assert missing_env_vars(compose, env_example) == []


def test_env_example_has_only_placeholders(env_example: str) -> None:
    assert env_example_problems(env_example) == []
    # Documented for use outside compose too.
    for name in ("ASSAY_DATABASE_URL", "ASSAY_HOME"):
        assert name in env_example


def test_airflow_environment(compose: dict[str, Any]) -> None:
    assert airflow_env_problems(compose) == []


def test_init_creates_both_roles_and_tasks_use_them(compose: dict[str, Any]) -> None:
    assert role_problems(compose) == []


def test_dockerfile(dockerfile: str) -> None:
    assert dockerfile_problems(dockerfile) == []


def test_compose_build_args_exist_in_dockerfile(compose: dict[str, Any], dockerfile: str) -> None:
    declared = dockerfile_build_args(dockerfile)
    for name, svc in services(compose).items():
        build = svc.get("build")
        if isinstance(build, dict):
            unknown = set(build.get("args") or {}) - declared
            assert not unknown, f"{name} passes build args the Dockerfile does not declare: {unknown}"


def test_python_services_share_the_project_image(compose: dict[str, Any]) -> None:
    for name in ("airflow-init", "mlflow", *AIRFLOW_SERVICES):
        build = services(compose)[name].get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert context == ".", f"{name} must be built from the project Dockerfile"


def test_commands(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    init = " ".join(command_words(svcs["airflow-init"]))
    assert "airflow db migrate" in init
    assert "assay catalog migrate" in init
    assert command_words(svcs["airflow-apiserver"])[:2] == ["airflow", "api-server"]
    assert command_words(svcs["airflow-dag-processor"])[:2] == ["airflow", "dag-processor"]
    assert command_words(svcs["airflow-worker"])[:3] == ["airflow", "celery", "worker"]
    mlflow = mlflow_server_words(svcs["mlflow"])
    assert mlflow[:2] == ["mlflow", "server"]
    for flag in ("--backend-store-uri", "--artifacts-destination", "--serve-artifacts", "--app-name"):
        assert flag in mlflow
    assert mlflow[mlflow.index("--backend-store-uri") + 1].endswith("@postgres:5432/mlflow")


def test_initdb_creates_every_database(compose: dict[str, Any]) -> None:
    sql = INITDB_SQL.read_text()
    for db in DATABASES:
        assert f"CREATE DATABASE {db}" in sql
    mounts = services(compose)["postgres"]["volumes"]
    assert any(str(m).startswith("./docker/initdb:/docker-entrypoint-initdb.d") for m in mounts)


def test_compose_file_matches_the_compose_specification_schema(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_vendored_schema_is_recorded() -> None:
    """docker/schema/README.md names where the schema came from, its version, licence and digest."""
    import hashlib

    readme = SCHEMA_README.read_text()
    digest = hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest()
    assert digest in readme, f"update the sha256 in {SCHEMA_README.relative_to(ROOT)}: {digest}"
    for needle in ("compose-spec/compose-spec", "check-jsonschema", "Apache-2.0"):
        assert needle in readme
    assert (COMPOSE_SCHEMA.parent / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_init_creates_the_gpu_pool_and_mlflow_account(compose: dict[str, Any], dockerfile: str) -> None:
    assert init_problems(compose) == []
    # The account script reaches the container through the image (airflow-init runs it from there).
    assert "COPY docker/mlflow/service_user.py" in dockerfile
    assert (ROOT / "docker" / "mlflow" / "service_user.py").is_file()


def test_mlflow_requires_a_login(compose: dict[str, Any]) -> None:
    assert mlflow_auth_problems(compose) == []


# ---- each checker catches what it is for --------------------------------------------------------
def test_duplicate_key_is_rejected() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key"):
        parse_compose("services:\n  a: {image: x}\n  a: {image: y}\n")
    # A key overriding one brought in by a merge is fine, as in compose.
    parse_compose("x: &x {image: a}\nservices:\n  s:\n    <<: *x\n    image: b\n")


def test_missing_service_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["airflow-triggerer"]
    assert missing_services(broken) == ["airflow-triggerer"]


def test_removed_healthcheck_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["airflow-scheduler"]["healthcheck"]
    broken["services"]["redis"]["healthcheck"] = {"disable": True}
    assert missing_healthchecks(broken) == ["airflow-scheduler", "redis"]


def test_healthy_condition_on_unchecked_service_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["airflow-triggerer"]["healthcheck"]
    broken["services"]["airflow-worker"]["depends_on"]["airflow-triggerer"] = {"condition": "service_healthy"}
    assert "airflow-triggerer" in missing_healthchecks(broken)


def test_dependency_cycle_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["postgres"]["depends_on"] = {"airflow-apiserver": {"condition": "service_healthy"}}
    cycle = dependency_cycle(broken)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert {"postgres", "airflow-apiserver"} <= set(cycle)
    with pytest.raises(ValueError, match="cycle"):
        topological_order(broken)


def test_weak_dependency_conditions_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-scheduler"]["depends_on"]["postgres"] = {"condition": "service_started"}
    broken["services"]["airflow-worker"]["depends_on"] = ["postgres", "redis"]
    del broken["services"]["mlflow"]["depends_on"]
    broken["services"]["airflow-init"]["restart"] = "unless-stopped"
    problems = "\n".join(dependency_problems(broken))
    assert "airflow-scheduler must depend on postgres with service_healthy" in problems
    assert "airflow-worker must depend on airflow-init with service_completed_successfully" in problems
    assert "mlflow must depend on postgres" in problems
    assert "airflow-init is awaited to complete but restarts" in problems


def test_volume_problems_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["volumes"]["mlflow-artifacts"]
    broken["volumes"]["orphan"] = None
    broken["services"]["postgres"]["volumes"] = ["./pgdata-on-host:/var/lib/postgresql/data"]
    problems = "\n".join(volume_problems(broken))
    assert "volume mlflow-artifacts (mlflow:/mlartifacts) is not declared" in problems
    assert "volume orphan is declared but unused" in problems
    assert "postgres keeps /var/lib/postgresql/data outside a named volume" in problems


def test_gpu_problems_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["airflow-worker-gpu"]["deploy"]
    broken["services"]["airflow-worker-gpu"]["command"] = ["airflow", "celery", "worker"]
    broken["services"]["airflow-worker"]["command"] = "airflow celery worker --queues default,gpu"
    problems = "\n".join(gpu_routing_problems(broken))
    assert "reserves no nvidia device" in problems
    assert "airflow-worker-gpu does not consume the gpu queue" in problems
    assert "airflow-worker consumes the gpu queue" in problems

    no_capability = copy.deepcopy(compose)
    devices = no_capability["services"]["airflow-worker-gpu"]["deploy"]["resources"]["reservations"][
        "devices"
    ]
    devices[0]["capabilities"] = ["compute"]
    assert any("nvidia" in p for p in gpu_routing_problems(no_capability))


def test_literal_secrets_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    svcs = broken["services"]
    svcs["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter2"
    svcs["airflow-apiserver"]["environment"] = {
        **svcs["airflow-apiserver"]["environment"],
        "AIRFLOW__CORE__FERNET_KEY": "${AIRFLOW_FERNET_KEY:-d6Vefz3G9U_ynXB3cr7y_Ak35tAHkEGAVxuz_B-jzWw=}",
    }
    svcs["redis"]["environment"] = ["REDIS_PASSWORD=swordfish"]
    svcs["mlflow"]["command"] = (
        "mlflow server --backend-store-uri postgresql://mlflow:s3cret@postgres/mlflow --port 5000"
    )
    svcs["airflow-triggerer"]["command"] = ["airflow", "triggerer", "--api-token", "abc123"]
    found = "\n".join(find_literal_secrets(broken))
    assert "services.postgres.environment.POSTGRES_PASSWORD" in found
    assert "AIRFLOW__CORE__FERNET_KEY" in found  # a literal fallback is a literal secret
    assert "REDIS_PASSWORD" in found
    assert "postgresql://mlflow:s3cret@" in found
    assert "api-token" in found


def test_secret_scanner_accepts_references() -> None:
    ok = {
        "services": {
            "s": {
                "environment": {
                    "PASSWORD": "${PASSWORD}",
                    "TOKEN": "${TOKEN:?set in .env}",
                    "URL": "postgresql://${U}:${P}@db/x",
                    "BROKER": "redis://:@redis:6379/0",
                    "EMPTY_SECRET": "",
                },
                "command": ["sh", "-c", "echo $${HOSTNAME}"],
            }
        }
    }
    assert find_literal_secrets(ok) == []


def test_variables_missing_from_env_example_are_reported(compose: dict[str, Any], env_example: str) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["redis"]["command"] = (
        "redis-server --maxmemory ${REDIS_MAXMEMORY:-256mb} --port $REDIS_PORT"
    )
    broken["services"]["redis"]["healthcheck"]["test"] = ["CMD-SHELL", "echo $${NOT_COMPOSE}"]
    assert missing_env_vars(broken, env_example) == ["REDIS_MAXMEMORY", "REDIS_PORT"]
    trimmed = "\n".join(
        line for line in env_example.splitlines() if not line.startswith("POSTGRES_PASSWORD=")
    )
    assert missing_env_vars(compose, trimmed) == ["POSTGRES_PASSWORD"]


def test_real_looking_env_example_values_are_reported() -> None:
    text = (
        "POSTGRES_PASSWORD=hunter2\n"
        "AIRFLOW_FERNET_KEY=change-me-fernet\n"
        "# ASSAY_DATABASE_URL=postgresql://assay:hunter2@localhost/assay\n"
    )
    problems = "\n".join(env_example_problems(text))
    assert "POSTGRES_PASSWORD" in problems
    assert "AIRFLOW_FERNET_KEY" not in problems
    assert "assay:hunter2@" in problems


def test_airflow_environment_problems_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    env = dict(broken["services"]["airflow-scheduler"]["environment"])
    env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    env["AIRFLOW__CORE__FERNET_KEY"] = "${AIRFLOW_FERNET_KEY}"
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "postgresql://airflow:airflow@postgres/airflow"
    broken["services"]["airflow-scheduler"]["environment"] = env
    problems = "\n".join(airflow_env_problems(broken))
    assert "airflow-scheduler: AIRFLOW__CORE__EXECUTOR" in problems
    assert "airflow-scheduler: AIRFLOW__CORE__FERNET_KEY must be a required variable" in problems
    assert "airflow-scheduler: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in problems
    assert "airflow-apiserver" not in problems


def test_role_problems_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    svcs = broken["services"]
    svcs["airflow-init"]["command"] = ["bash", "-c", "airflow db migrate\nassay catalog migrate\n"]
    svcs["airflow-worker"]["environment"] = {
        **svcs["airflow-worker"]["environment"],
        "ASSAY_DATABASE_URL": "postgresql+psycopg2://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres:5432/assay",
        "ASSAY_ADMIN_URL": "postgresql+psycopg2://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres:5432/postgres",
    }
    del svcs["airflow-scheduler"]["environment"]["ASSAY_SHOP_READER_URL"]
    problems = "\n".join(role_problems(broken))
    assert "airflow-init does not create the roles" in problems
    assert "airflow-worker: ASSAY_DATABASE_URL must log in as assay_writer" in problems
    assert "airflow-worker: holds ASSAY_ADMIN_URL" in problems
    assert "airflow-scheduler: ASSAY_SHOP_READER_URL must log in as assay_reader" in problems
    late = copy.deepcopy(compose)
    late["services"]["airflow-init"]["command"] = ["bash", "-c", "assay catalog migrate\npython -m assay.db.roles\n"]
    assert "before the writer role exists" in "\n".join(role_problems(late))


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("FROM python:3.11-slim-bookworm", "FROM python:3.12-slim"), "not python:3.11"),
        (lambda t: t.replace("USER assay", "USER root"), "runs as root"),
        (lambda t: t.replace("USER assay", ""), "no USER line"),
        (lambda t: t + "\nENV AIRFLOW__CORE__FERNET_KEY=d6Vefz3G9U_ynXB3cr7y\n", "bakes a secret"),
        (lambda t: t + "\nARG POSTGRES_PASSWORD=hunter2\n", "bakes a secret"),
        (lambda t: t.replace("HF_HUB_OFFLINE=1", "HF_HUB_OFFLINE=0"), "HF_HUB_OFFLINE"),
    ],
)
def test_dockerfile_problems_are_reported(dockerfile: str, edit: Any, expected: str) -> None:
    broken = edit(dockerfile)
    assert broken != dockerfile
    assert any(expected in p for p in dockerfile_problems(broken))


def test_schema_violations_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["redis"]["restart_policy"] = "always"  # not a compose key
    broken["services"]["postgres"]["healthcheck"]["interval"] = 10  # a duration is a string
    broken["volume"] = {"typo": None}  # top level: `volumes`
    errors = "\n".join(schema_errors(broken))
    assert "services.redis" in errors and "restart_policy" in errors
    assert "services.postgres.healthcheck.interval: 10 is not of type 'string'" in errors
    assert "<top>: 'volume' does not match any of the regexes: '^x-'" in errors


def test_init_problems_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    init = broken["services"]["airflow-init"]
    init["command"] = ["bash", "-c", "airflow pools set gpu-big 2 x\nairflow db migrate\n"]
    del init["depends_on"]["mlflow"]
    problems = "\n".join(init_problems(broken))
    assert "sets the pool before `airflow db migrate`" in problems
    assert "the pool must be assay.names.GPU_POOL" in problems
    assert "does not create assay's MLflow account" in problems
    assert "must wait for mlflow" in problems
    init["command"] = ["bash", "-c", "airflow db migrate\n"]
    assert "does not create the gpu pool" in "\n".join(init_problems(broken))


def test_mlflow_auth_problems_are_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    svcs = broken["services"]
    svcs["mlflow"]["command"] = ["mlflow", "server", "--host", "0.0.0.0"]
    svcs["mlflow"]["environment"] = {**svcs["mlflow"]["environment"], "MLFLOW_AUTH_ADMIN_PASSWORD": "hunter2"}
    del svcs["mlflow"]["environment"]["MLFLOW_AUTH_CONFIG_PATH"]
    svcs["airflow-worker"]["environment"] = {
        k: v for k, v in svcs["airflow-worker"]["environment"].items() if not k.startswith("MLFLOW_TRACKING_USER")
    }
    svcs["airflow-scheduler"]["environment"] = {
        **svcs["airflow-scheduler"]["environment"],
        "MLFLOW_TRACKING_PASSWORD": "${MLFLOW_ASSAY_PASSWORD:-assay}",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "${MLFLOW_ADMIN_PASSWORD:?x}",
    }
    problems = "\n".join(mlflow_auth_problems(broken))
    assert "mlflow does not run the basic-auth app" in problems
    assert "mlflow: MLFLOW_AUTH_ADMIN_PASSWORD must be a required variable" in problems
    assert "MLFLOW_AUTH_CONFIG_PATH must name an auth config" in problems
    assert "airflow-worker: MLFLOW_TRACKING_USERNAME is not set" in problems
    assert "airflow-scheduler: MLFLOW_TRACKING_PASSWORD must be a required variable" in problems
    assert "airflow-scheduler: holds MLflow's admin password" in problems


def test_mlflow_auth_config_problems_are_reported(compose: dict[str, Any], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ini = tmp_path / "auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = EDIT\nadmin_password = hunter2\n"
                   "database_uri = sqlite:////elsewhere/basic_auth.db\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    broken = copy.deepcopy(compose)
    broken["services"]["mlflow"]["volumes"] = ["mlflow-artifacts:/mlartifacts",
                                               "./auth.ini:/etc/mlflow/basic_auth.ini:ro"]
    problems = "\n".join(mlflow_auth_problems(broken))
    assert "auth.ini: admin_password is written in the file" in problems
    assert "default_permission lets every account edit" in problems
    assert "the user store sqlite:////elsewhere/basic_auth.db is not on a named volume" in problems
