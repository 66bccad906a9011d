"""Whole-chain PII scan: plant every PII kind in a seeded shop, run the chain, grep every store.

A small demo shop (3 days, scale 1) gets distinctive *canary* values of every kind the project
knows (:data:`assay.classify.pii.PII_LABELS`, plus the IBAN and IPv6 forms the free-text screen
finds), each kind twice with different values: once in a column that holds that kind (the
customers' e-mail, phone, name, street, postal code and IP; a ``payment_methods`` table's card
number and IBAN) and once inside free text of columns that are not PII (search queries, product
titles, descriptions and JSON attributes, a payment note, supplier feed titles and brands in the
CSV and JSONL feed files).

The chain then runs as the demo runs it in-process (inventory, profile and quality with Data Docs
for each day, training with the tiny BERT on MLflow, the promotion gate), plus one
``airflow dags test quality`` for Airflow's task logs, with ``assay.*`` logging captured at DEBUG.
Every store is then scanned for each raw canary: every catalog table as JSON, the MLflow and
Airflow metadata databases, every file of the state folder (Data Docs, GX state, MLflow artifacts,
training sets, checkpoints, Airflow logs; parquet decoded, gzip opened, raw bytes searched too),
the captured log and the ``dags test`` output.

Kinds the screen cannot find inside free text (person names, street addresses, postal codes: no
value rule tells them from product words) are planted in free text too, but only reported, never
asserted: see :data:`UNSCREENED_IN_TEXT`.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.db import execute, rows

from assay.classify.mask import mask_value
from assay.classify.pii import PII_LABELS

START = dt.date(2026, 11, 18)
DAYS = 3
LAST = START + dt.timedelta(days=DAYS - 1)
#: Sessions per day whose query is replaced by each note (often enough to be a top value).
SESSIONS_PER_NOTE = 6
#: Feed rows per day and file whose title is each note (a repeated title is a top value).
FEED_ROWS_PER_NOTE = 3

#: Free-text kinds the value screen (assay.classify.scrub.KINDS) does not find: planted, reported,
#: not asserted. Known limitation (the lead decides): a person's name, street or postal code quoted
#: in a search query or product text is stored raw wherever that text is (top values, training sets).
UNSCREENED_IN_TEXT = frozenset({"person_name_text", "address_text", "postal_code_text"})


# ---- canaries -----------------------------------------------------------------------------------
def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _card(digits: str) -> str:
    body = "4" + digits[:14]
    return body + _luhn_digit(body)


def _iban(digits: str) -> str:
    bban = digits[:18]
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, check digits 00
    return f"DE{check:02d}{bban}"


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def _letters(n: int, salt: str) -> str:
    h = uuid.uuid5(uuid.NAMESPACE_OID, salt).hex
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in h[:n])


def make_canaries() -> dict[str, str]:
    """Distinctive raw values: ``<kind>_col`` for a PII column, ``<kind>_text`` inside free text."""
    u = uuid.uuid4()
    digits = str(u.int).zfill(40)
    hx = u.hex
    a, b, c, d = (int(hx[i : i + 2], 16) for i in (0, 2, 4, 6))
    up = _letters(6, hx).upper()
    return {
        # The column e-mail has capitals, so customers' e-mail regex fails it and GX keeps it as
        # an unexpected example (masked): the examples path is exercised too.
        "email_col": f"Canary.{hx[:10]}@Example.org",
        "email_text": f"canary.{hx[10:20]}@example.org",
        "phone_col": f"+353 87 {digits[0:3]} {digits[3:7]}",
        "phone_text": f"+353 86 {digits[7:10]} {digits[10:14]}",
        "card_number_col": _card(digits[14:28]),
        "card_number_text": _grouped(_card(digits[20:34])),
        "iban_col": _iban(digits[0:18]),
        "iban_text": _grouped(_iban(digits[18:36])),
        # 198.18.0.0/15 (benchmarking): the demo's own IPs are 10/8 and the RFC 5737 ranges.
        "ip_address_col": f"198.18.{a}.{b + 1 if b < 254 else 1}",
        "ip_address_text": f"198.19.{c}.{d + 1 if d < 254 else 1}",
        "ipv6_text": f"2001:db8:{hx[20:24]}:{hx[24:28]}::{hx[28:32]}".replace(":0", ":1"),
        "person_name_col": f"Ysolde {_letters(7, hx + 'p').capitalize()}",
        "person_name_text": f"Thaddeus {_letters(8, hx + 'q').capitalize()}",
        "address_col": f"{100 + a} {_letters(6, hx + 'a').capitalize()}vale Road",
        "address_text": f"{100 + c} {_letters(6, hx + 'b').capitalize()}wick Street",
        "postal_code_col": f"Q{up[0]}{1 + a % 9} {a % 10}{up[1]}{up[2]}",
        "postal_code_text": f"X{up[3]}{1 + c % 9} {c % 10}{up[4]}{up[5]}",
    }


def needles(canaries: dict[str, str]) -> dict[str, str]:
    """Every form a leak may take -> the canary it betrays (as written, compact, e-mail local part)."""
    out: dict[str, str] = {}
    for name, raw in canaries.items():
        out[raw] = name
        compact = raw.replace(" ", "").replace("-", "")
        if len(compact) >= 8 and name.split("_")[0] in {"phone", "card", "iban"}:
            out[compact] = name
        if name.startswith("email"):
            out[raw.split("@")[0]] = name
        if name.startswith("ipv6"):
            import ipaddress

            out[ipaddress.ip_address(raw).exploded] = name
    return out


def notes(c: dict[str, str]) -> list[str]:
    """Sentences quoting the ``_text`` canaries, as people type them into a search box or a note."""
    return [
        f"refund for {c['email_text']} call {c['phone_text']}",
        f"paid card {c['card_number_text']} iban {c['iban_text']}",
        f"login from {c['ip_address_text']} and {c['ipv6_text']}",
        f"ship to {c['person_name_text']}, {c['address_text']}, {c['postal_code_text']}",
    ]


# ---- the scan -----------------------------------------------------------------------------------
def file_texts(path: Path) -> Iterator[str]:
    """What a file says: its bytes as UTF-8 and Latin-1, gzip opened, parquet decoded to JSON."""
    data = path.read_bytes()
    yield data.decode("utf-8", errors="replace")
    yield data.decode("latin-1")
    if data[:2] == b"\x1f\x8b":
        opened = b""
        with suppress(OSError, EOFError):  # a truncated gzip still had its bytes searched above
            opened = gzip.decompress(data)
        yield opened.decode("utf-8", errors="replace")
    if data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        yield json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)


def folder_haystacks(folder: Path, label: str, skip: Iterable[Path] = ()) -> dict[str, Iterator[str]]:
    """``{label/relative path: texts}`` for every file under ``folder`` (read lazily)."""
    skipped = [p.resolve() for p in skip]
    return {
        f"{label}/{p.relative_to(folder)}": file_texts(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(p.resolve().is_relative_to(s) for s in skipped)
    }


def database_haystacks(url: str, label: str) -> dict[str, Iterator[str]]:
    """``{label:table: rows as JSON}`` for every table of every non-system schema of a database."""
    tables = rows(
        url,
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    out: dict[str, Iterator[str]] = {}
    for schema, table in tables:
        q = f'SELECT row_to_json(t)::text FROM "{schema}"."{table}" t'
        out[f"{label}:{schema}.{table}"] = iter(["\n".join(r[0] for r in rows(url, q))])
    return out


def scan(haystacks: dict[str, Iterable[str]], forms: dict[str, str]) -> dict[str, set[str]]:
    """``{canary name: places where one of its forms was found}`` (only canaries found)."""
    found: dict[str, set[str]] = {}
    for place, texts in haystacks.items():
        for text in texts:
            for form, name in forms.items():
                if form in text:
                    found.setdefault(name, set()).add(place)
    return found


# ---- planting -----------------------------------------------------------------------------------
def plant_shop(url: str, c: dict[str, str]) -> None:
    """Canaries in the shop's PII columns and in its free text (queries, products, a payments table)."""
    n = notes(c)
    execute(
        url,
        "UPDATE customers SET email = :e, phone = :p, full_name = :n, street_address = :a, "
        "postal_code = :z, ip_address = :i WHERE customer_id = (SELECT min(customer_id) FROM customers)",
        e=c["email_col"], p=c["phone_col"], n=c["person_name_col"], a=c["address_col"], z=c["postal_code_col"],
        i=c["ip_address_col"],
    )
    execute(url, "CREATE TABLE public.payment_methods (customer_id text PRIMARY KEY, card_number text, "
                 "iban text, note text)")
    execute(url, "INSERT INTO public.payment_methods VALUES ((SELECT min(customer_id) FROM customers), :k, :i, :n)",
            k=c["card_number_col"], i=c["iban_col"], n=n[1])
    # Sessions with a click, so the notes reach the training set and the clicks-per-query check.
    for day in (START + dt.timedelta(days=i) for i in range(DAYS)):
        sessions = [r[0] for r in rows(
            url, "SELECT DISTINCT s.session_id FROM search_sessions s JOIN interactions i USING (session_id) "
                 "WHERE s.day = :d AND i.event_type = 'click' ORDER BY 1 LIMIT :k", d=day,
            k=SESSIONS_PER_NOTE * len(n))]
        assert len(sessions) == SESSIONS_PER_NOTE * len(n), day
        for k, sid in enumerate(sessions):
            execute(url, "UPDATE search_sessions SET query = :q WHERE session_id = :s", q=n[k % len(n)], s=sid)
    products = [r[0] for r in rows(url, "SELECT product_id FROM products ORDER BY 1 LIMIT 4")]
    for k, pid in enumerate(products):
        execute(url, "UPDATE products SET title = title || ' - ' || :t, description = :d, "
                     "attributes = attributes || jsonb_build_object('note', CAST(:a AS text)) WHERE product_id = :p",
                t=n[k % len(n)], d=f"Questions? {n[(k + 1) % len(n)]}", a=n[(k + 2) % len(n)], p=pid)


def plant_feeds(landing: Path, c: dict[str, str]) -> int:
    """Canaries in the titles and brands of the CSV and JSONL supplier feeds of every day."""
    n, planted = notes(c), 0
    for path in sorted(landing.glob("feeds/*/*/products.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
        header = table[0]
        for k in range(FEED_ROWS_PER_NOTE * len(n)):
            table[1 + k][header.index("title")] = n[k % len(n)]
        table[-1][header.index("brand")] = n[0]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(table)
        path.write_text(buf.getvalue(), encoding="utf-8")
        planted += 1
    for path in sorted(landing.glob("feeds/*/*/products.jsonl")):
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for k in range(FEED_ROWS_PER_NOTE * len(n)):
            records[k]["title"] = n[(k + 1) % len(n)]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        planted += 1
    return planted


# ---- the chain ----------------------------------------------------------------------------------
@dataclass
class Chain:
    """What the chain left: the stores to scan and a few figures."""

    catalog: str
    mlflow: str
    state: Path
    log_file: Path
    airflow_db: str
    airflow_log: str
    seconds: dict[str, float]


def _timed(seconds: dict[str, float], name: str, fn: Callable[[], object]) -> object:
    t0 = time.perf_counter()
    out = fn()
    seconds[name] = round(time.perf_counter() - t0, 1)
    return out


@contextmanager
def captured_logs(path: Path) -> Iterator[Path]:
    """Every ``assay.*`` record at DEBUG (and other loggers' records as configured) into ``path``."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root, ours = logging.getLogger(), logging.getLogger("assay")
    before = ours.level
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        ours.setLevel(before)
        root.removeHandler(handler)
        handler.close()


def run_chain(settings, tiny: str, dags_test, tmp_path: Path) -> Chain:
    """Inventory, profile and quality (Data Docs) per day, train, gate; then ``dags test quality``."""
    from assay import names
    from assay.gate.run import run_gate
    from assay.inventory import run_inventory
    from assay.profiling import run_profile
    from assay.quality import run_quality
    from assay.training.config import TrainConfig
    from assay.training.request import TrainRequest
    from assay.training.run import train_candidate

    seconds: dict[str, float] = {}
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    with captured_logs(tmp_path / "assay-debug.log") as log_file:
        _timed(seconds, "inventory", lambda: run_inventory(settings, START, "test/pii-inventory"))
        for day in days:
            key = f"test/pii/{day}"
            _timed(seconds, f"profile {day}", lambda d=day, k=key: run_profile(settings, d, k))
            _timed(seconds, f"quality {day}", lambda d=day, k=key: run_quality(
                settings, d, k, result_format="COMPLETE", raise_on_failure=False))
        config = TrainConfig(base_model=tiny, epochs=1, max_steps=4, batch_size=8, progress=False,
                             teacher_weight=0.0, checkpoint_every=2, log_every=1, max_length=64)
        outcome = _timed(seconds, "train", lambda: train_candidate(
            settings, TrainRequest(window_end=LAST, days=DAYS, run_key="test/pii-train", config=config)))
        _timed(seconds, "gate", lambda: run_gate(
            settings, names.MODEL_NAME, outcome.version, actor="test", run_key="test/pii-gate",  # type: ignore[attr-defined]
            now=dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)))
    done = _timed(seconds, "airflow dags test quality", lambda: dags_test(settings, "quality", LAST.isoformat()))
    return Chain(settings.catalog_url(), settings.mlflow_uri(), settings.state_dir, log_file,
                 done.airflow_db, done.log, seconds)  # type: ignore[attr-defined]


# ---- the tests ----------------------------------------------------------------------------------
def test_the_scan_finds_a_planted_value_in_a_folder_a_database_dump_and_a_parquet_file(tmp_path):
    """The counterpart: one canary written where the scan looks is found, and named with its place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    c = make_canaries()
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    (tmp_path / "docs" / "deep" / "page.html").write_text(f"<td>{c['email_text']}</td>")
    (tmp_path / "docs" / "clean.json").write_text('{"value": "c***@e***.org"}')
    (tmp_path / "docs" / "log.gz").write_bytes(gzip.compress(c["phone_text"].replace(" ", "").encode()))
    pq.write_table(pa.table({"q": [f"x {c['iban_text']}"] * 50}), tmp_path / "docs" / "train.parquet",
                   compression="zstd")
    haystacks = {**folder_haystacks(tmp_path / "docs", "docs"), "catalog:public.t": [f'{{"a": "{c["card_number_col"]}"}}']}
    found = scan(haystacks, needles(c))
    assert found == {
        "email_text": {"docs/deep/page.html"},
        "phone_text": {"docs/log.gz"},
        "iban_text": {"docs/train.parquet"},
        "card_number_col": {"catalog:public.t"},
    }
    assert scan(folder_haystacks(tmp_path / "docs", "docs", skip=[tmp_path / "docs"]), needles(c)) == {}


def test_every_kind_is_planted_and_the_canaries_are_what_the_screen_finds():
    """Every PII label has a column canary; every kind the screen finds is masked in its note."""
    from assay.classify.scrub import KINDS, scrub

    c = make_canaries()
    assert {name.removesuffix("_col") for name in c if name.endswith("_col")} >= set(PII_LABELS)
    assert {name.removesuffix("_text") for name in c if name.endswith("_text")} >= set(PII_LABELS) | set(KINDS)
    scrubbed = " ".join(scrub(n).text for n in notes(c))
    found = scan({"notes": [scrubbed]}, needles(c))
    assert set(found) == UNSCREENED_IN_TEXT
    counts: dict[str, int] = {}
    for n in notes(c):
        for kind, k in scrub(n).counts.items():
            counts[kind] = counts.get(kind, 0) + k
    assert counts == {"email": 1, "phone": 1, "card_number": 1, "iban": 1, "ip_address": 2}


def test_training_rows_are_screened_and_queries_equal_once_masked_are_merged():
    """The leak this scan found: training sets stored raw queries; now screened, merged, digests kept."""
    import pandas as pd

    from assay.training.source import _screened

    rows_ = pd.DataFrame({"query": ["mail anna@example.org", "mail amy@example.org", "red shoes"],
                          "product_id": ["P1", "P1", "P1"], "label": [0, 2, 1], "n_sessions": [1, 2, 5],
                          "n_interacted": [0, 1, 3]})
    out = _screened(rows_, ["query", "product_id"])
    assert out.to_dict("records") == [
        {"query": "mail a***@e***.org", "product_id": "P1", "label": 2, "n_sessions": 3, "n_interacted": 1},
        {"query": "red shoes", "product_id": "P1", "label": 1, "n_sessions": 5, "n_interacted": 3},
    ]
    clean = rows_.iloc[[2]]
    assert _screened(clean, ["query", "product_id"]) is clean  # no hit: the same frame, the same digest


@pytest.mark.integration
@pytest.mark.slow
def test_no_planted_pii_value_is_stored_anywhere_after_the_whole_chain(seeded_world, mlflow_uri, tiny,
                                                                        dags_test, tmp_path):
    from assay.seed import SeedConfig

    started = time.perf_counter()
    world = seeded_world("pii", SeedConfig(start_date=START, days=DAYS, write_truth=False))
    c = make_canaries()
    forms = needles(c)
    # No false positive: the demo's own data holds none of the canaries before they are planted.
    assert scan({**database_haystacks(world.shop_url, "shop"), **folder_haystacks(world.landing, "landing")},
                forms) == {}
    plant_shop(world.shop_url, c)
    assert plant_feeds(world.landing, c) == 2 * DAYS
    settings = world.settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    planted = scan({**database_haystacks(world.shop_url, "shop"), **folder_haystacks(world.landing, "landing")},
                   forms)
    assert set(planted) == set(c), "every canary is in the shop or its files"

    chain = run_chain(settings, tiny, dags_test, tmp_path)

    haystacks: dict[str, Iterable[str]] = {
        **database_haystacks(chain.catalog, "catalog"),
        **database_haystacks(chain.mlflow, "mlflow"),
        **folder_haystacks(chain.state, "state", skip=[world.landing]),
        "assay log": file_texts(chain.log_file),
    }
    haystacks.update(database_haystacks(chain.airflow_db, "airflow"))
    haystacks["airflow dags test output (task logs)"] = [chain.airflow_log]
    found = scan(haystacks, forms)
    report = {name: sorted(places) for name, places in sorted(found.items())}
    (tmp_path / "pii-scan.json").write_text(json.dumps(
        {"found": report, "seconds": chain.seconds, "places": len(haystacks),
         "total_seconds": round(time.perf_counter() - started, 1)}, indent=1))

    leaks = {name: places for name, places in report.items() if name not in UNSCREENED_IN_TEXT}
    assert leaks == {}, f"raw PII stored: {json.dumps(leaks, indent=1)}"
    # The known limitation stays where it is: profiles' top/min/max values and the training sets.
    # Data Docs, expectation results, MLflow, logs and Airflow carry none of the unscreened kinds.
    elsewhere = {name: [p for p in places if p != "catalog:public.column_metrics" and not p.startswith("state/datasets/")]
                 for name, places in report.items() if name in UNSCREENED_IN_TEXT}
    assert not any(elsewhere.values()), f"unscreened free-text PII spread: {elsewhere}"

    # The chain read the canaries: each PII column was classified as its kind and each screened
    # kind was masked in free text (counts per column, never values).
    cat = chain.catalog
    labels = dict(rows(cat, "SELECT a.name || '.' || col.name, c.label FROM classifications c "
                            "JOIN asset_columns col ON col.id = c.column_id JOIN assets a ON a.id = col.asset_id "
                            "WHERE c.kind = 'pii'"))
    for column, label in {"customers.email": "email", "customers.phone": "phone",
                          "customers.full_name": "person_name", "customers.street_address": "address",
                          "customers.postal_code": "postal_code", "customers.ip_address": "ip_address",
                          "payment_methods.card_number": "card_number"}.items():
        assert labels.get(column) == label, (column, labels)
    scrubbed = rows(cat, "SELECT a.name, a.location, m.column_name, m.metrics->'scrubbed' FROM column_metrics m "
                         "JOIN profile_runs r ON r.id = m.profile_run_id JOIN assets a ON a.id = r.asset_id "
                         "WHERE m.metrics ? 'scrubbed'")
    kinds_in: dict[tuple[str, str], set[str]] = {}
    for name, location, column, counts in scrubbed:
        kinds_in.setdefault((name, column), set()).update(counts)
        if "northwind" in location or "meridian" in location:
            kinds_in.setdefault(("feeds", column), set()).update(counts)
    screened = {"email", "phone", "card_number", "iban", "ip_address"}
    assert kinds_in.get(("search_sessions", "query"), set()) >= screened, kinds_in
    assert kinds_in.get(("feeds", "title"), set()) >= screened, kinds_in
    # Products: each note is in one row only; only what profiling keeps of them (min/max, JSON) counts.
    assert set().union(*(k for (a, _), k in kinds_in.items() if a == "products")) >= screened, kinds_in
    assert kinds_in.get(("payment_methods", "iban"), set()) == {"iban"}, kinds_in
    (quality_scrubbed,) = rows(cat, "SELECT count(*) FROM quality_runs WHERE statistics ? 'scrubbed'")[0]
    assert quality_scrubbed > 0
    # The column e-mail failed customers' e-mail regex: GX's unexpected example is stored masked.
    results = "\n".join(r[0] for r in rows(cat, "SELECT row_to_json(e)::text FROM expectation_results e"))
    assert mask_value("email", c["email_col"]) in results
    assert rows(cat, "SELECT status FROM training_runs") == [("success",)]
    states = dict(rows(chain.airflow_db, "SELECT task_id, state FROM task_instance WHERE dag_id = 'quality'"))
    assert states.get("validate") == "success", (states, chain.airflow_log[-3000:])
    assert rows(cat, "SELECT count(*) FROM gate_decisions")[0][0] >= 1
