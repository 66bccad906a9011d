"""effective(): steward overrides win over automatic classifications, per kind."""

from __future__ import annotations

import pytest

from assay.classify import NO_LABEL, Classification, Override, effective

PII = Classification("pii", "email", 0.95, "pattern", {"matched": 19, "sampled": 20})
SEM = Classification("semantic", "email", 0.95, "pattern", {"decided_by": "pii"})


def test_no_override_keeps_auto() -> None:
    assert effective([PII, SEM], []) == [PII, SEM]


def test_override_replaces_its_kind_only() -> None:
    out = effective([PII, SEM], [Override("semantic", "identifier", reason="hashed ids", decided_by="ana")])
    assert out[0] == PII
    assert out[1].label == "identifier"
    assert out[1].method == "override"
    assert out[1].score == 1.0
    assert out[1].evidence == {
        "override": True,
        "reason": "hashed ids",
        "decided_by": "ana",
        "auto_label": "email",
        "auto_score": 0.95,
    }


def test_none_label_removes_the_kind() -> None:
    assert effective([PII, SEM], [Override("pii", NO_LABEL, reason="test accounts")]) == [SEM]


def test_override_without_auto_is_added() -> None:
    out = effective([SEM], [Override("pii", "person_name")])
    assert [(c.kind, c.label) for c in out] == [("pii", "person_name"), ("semantic", "email")]
    assert out[0].evidence["auto_label"] is None


def test_output_order_is_pii_then_semantic() -> None:
    assert [c.kind for c in effective([SEM, PII], [])] == ["pii", "semantic"]


def test_conflicting_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="two pii overrides"):
        effective([PII], [Override("pii", "email"), Override("pii", NO_LABEL)])
    with pytest.raises(ValueError, match="two automatic semantic"):
        effective([SEM, SEM], [])
