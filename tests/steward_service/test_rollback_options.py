"""``rollback_options`` offers exactly the versions ``rollback`` accepts (#15 bug: a held pass was offered).

A pass held for approval (``require_approval``) is not a rollback target while it waits, nor after it was
refused; once approved (a newer pass row) it is. Options and rollback read one rule
(:func:`assay.gate.run.rollback_bases`), so every offered version is accepted and every other one refused.
"""

from __future__ import annotations

import datetime as dt

import pytest
from support.gate_world import GOOD, TRAIN, World

from assay import names
from assay.gate.policy import parse
from assay.steward import service
from assay.steward.service import StewardError

pytestmark = pytest.mark.integration

MODEL = names.MODEL_NAME
NOW = dt.datetime(2026, 11, 9, 6, 0, tzinfo=dt.UTC)
POLICY = {"on_no_champion": "promote", "data": {"max_warning_failures": 1, "max_partition_age_hours": 96},
          "metrics": [{"metric": "ndcg_at_10", "threshold": 0.3}]}
CLEAN_DAYS = [TRAIN[0], TRAIN[2]]


def _gate(w: World, version: str, require: str = "never") -> tuple[int, str]:
    from assay.gate.run import run_gate

    d = run_gate(w.settings, MODEL, version, actor="airflow:promote", run_key="test/gate", now=NOW,
                 policy=parse({**POLICY, "require_approval": require}, "test-policy"))
    assert d.decision == "pass", d.reason
    return int(d.decision_id), d.decision  # type: ignore[arg-type]


def _accepted(w: World, version: str) -> bool:
    """Whether ``rollback`` accepts ``version`` (through the steward action, which moves champion)."""
    before = w.aliases().get(names.CHAMPION)
    try:
        service.rollback_model(w.settings, "oncall", MODEL, version, reason="probe")
    except StewardError as exc:
        assert w.aliases().get(names.CHAMPION) == before, exc
        return False
    assert w.aliases()[names.CHAMPION] == version
    if before is not None and before != version:  # put champion back for the next probe
        service.rollback_model(w.settings, "oncall", MODEL, before, reason="probe back")
    return True


def test_held_passes_are_no_rollback_option_until_approved(gate_world: World) -> None:
    from assay.gate.approval import record_answer

    w = gate_world
    v1 = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    _gate(w, v1)  # an ordinary pass: champion
    v2 = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    held_id, _ = _gate(w, v2, "always")  # waits for approval: champion stays at v1
    v3 = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    refused_id, _ = _gate(w, v3, "always")
    record_answer(w.settings, refused_id, approved=False, user="ml-lead", comment="no")
    v4 = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    approved_id, _ = _gate(w, v4, "always")
    record_answer(w.settings, approved_id, approved=True, user="ml-lead", comment="ok")
    assert w.aliases()[names.CHAMPION] == v4

    options = service.rollback_options(w.settings, MODEL)
    assert options == [v4, v1], f"held v{v2} (decision #{held_id}) or refused v{v3} offered: {options}"
    assert _accepted(w, v1)
    for version in (v2, v3):
        assert not _accepted(w, version)
        with pytest.raises(StewardError, match=f"v{version}.*rollback offers only {v4}, {v1}"):
            service.rollback_model(w.settings, "oncall", MODEL, version)

    # Approving the held v2 later makes it a target.
    record_answer(w.settings, held_id, approved=True, user="ml-lead", comment="late but fine")
    assert service.rollback_options(w.settings, MODEL) == [v4, v2, v1]


def test_options_are_exactly_the_accepted_versions(gate_world: World) -> None:
    """Every registered version: offered iff rollback accepts it (the current champion aside: nothing to do)."""
    from assay.gate.approval import record_answer

    w = gate_world
    versions = [w.candidate(GOOD, w.dataset(CLEAN_DAYS)) for _ in range(2)]
    failing = w.candidate({**GOOD, "ndcg_at_10": 0.1}, w.dataset(CLEAN_DAYS))
    _gate(w, versions[0])
    held, _ = _gate(w, versions[1], "always")
    from assay.gate.run import run_gate

    assert run_gate(w.settings, MODEL, failing, actor="t", run_key="test", now=NOW,
                    policy=parse(POLICY, "p")).decision == "fail"
    extra = w.candidate(GOOD, w.dataset(CLEAN_DAYS))
    _gate(w, extra)  # champion now: the others are real rollback targets
    options = set(service.rollback_options(w.settings, MODEL))
    champion = w.aliases()[names.CHAMPION]
    for v in [*versions, failing]:
        assert (v in options) == _accepted(w, v), (v, options)
    assert champion in options  # a passing version; rollback to it is refused only because it already is champion
    record_answer(w.settings, held, approved=False, user=None)
    assert versions[1] not in service.rollback_options(w.settings, MODEL)
