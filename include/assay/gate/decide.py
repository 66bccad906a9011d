"""The gate itself: ``decide(evidence, policy) -> Decision``, a pure function (no I/O, no clock).

Every condition of the policy becomes one :class:`Check` (name, observed, threshold, verdict,
detail). The decision is ``error`` if any check could not be evaluated (or the evidence itself is
incomplete), else ``fail`` if any check failed, else ``pass``.

Metric comparisons mirror :class:`mlflow.models.MetricThreshold`: with ``greater_is_better`` the
candidate must be ``>= threshold``, ``>= reference + min_absolute_change`` and
``>= reference + min_relative_change * |reference|`` (a zero reference with a positive relative
change needs ``reference + 1e-10``); the other way round otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from assay.gate.evidence import Evidence
from assay.gate.policy import CHAMPION_TARGET, MetricRule, OnNoChampion, Policy

Verdict = Literal["pass", "fail", "error"]
PASS: Verdict = "pass"
FAIL: Verdict = "fail"
ERROR: Verdict = "error"
#: MLflow's fallback when the baseline is 0 and a relative change is asked for.
ZERO_BASELINE_STEP = 1e-10


@dataclass(frozen=True)
class Check:
    name: str
    observed: Any
    threshold: str
    verdict: Verdict
    detail: str = ""


@dataclass
class Decision:
    """The outcome; ``decision_id`` is set once the decision is stored in the catalog."""

    model_name: str
    version: str
    decision: Verdict
    reason: str
    checks: list[Check] = field(default_factory=list)
    decision_id: int | None = None
    champion_version: str | None = None  # after the gate acted (or would have)
    dry_run: bool = False

    def checks_json(self) -> list[dict[str, Any]]:
        return [asdict(c) for c in self.checks]

    def summary(self) -> dict[str, Any]:
        """Small and JSON-able: what a DAG task returns."""
        return {
            "model_name": self.model_name,
            "version": self.version,
            "decision_id": self.decision_id,
            "decision": self.decision,
            "reason": self.reason,
            "champion_version": self.champion_version,
            "dry_run": self.dry_run,
        }


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


# ---- data checks ---------------------------------------------------------------------------------
def _data_checks(ev: Evidence, policy: Policy) -> list[Check]:
    rules = policy.data
    checks: list[Check] = []
    critical = [f for f in ev.failures if f.severity == "critical"]
    unwaived = [f for f in critical if f.waiver_id is None]
    waived = [f for f in critical if f.waiver_id is not None]
    detail = "; ".join(f.describe() for f in unwaived) or "none"
    if waived:
        detail += " | waived: " + "; ".join(f.describe() for f in waived)
    checks.append(Check("quality.critical", len(unwaived), "== 0 unwaived", PASS if not unwaived else FAIL, detail))

    warnings = [f for f in ev.failures if f.severity != "critical" and f.waiver_id is None]
    checks.append(
        Check(
            "quality.warnings",
            len(warnings),
            f"<= {rules.max_warning_failures}",
            PASS if len(warnings) <= rules.max_warning_failures else FAIL,
            "; ".join(f.describe() for f in warnings) or "none",
        )
    )
    if rules.require_quality_runs:
        problems = [f"partition {p} has no quality run" for p in ev.unvalidated_partitions] + ev.broken_quality_runs
        checks.append(
            Check(
                "quality.coverage",
                f"{len(ev.partitions) - len(ev.unvalidated_partitions)}/{len(ev.partitions)} with a quality run",
                "every partition has a quality run, none in error",
                PASS if not problems else FAIL,
                "; ".join(problems) or f"quality runs {ev.quality_run_ids}"
                + (f" (flagged at training time, re-judged above: {', '.join(ev.dataset_flagged_partitions)})"
                   if ev.dataset_flagged_partitions else ""),
            )
        )

    if ev.newest_partition is None:
        checks.append(Check("freshness", None, f"<= {rules.max_partition_age_hours:g} h", ERROR, "no training partitions"))
    else:
        end_of_day = dt.datetime.combine(ev.newest_partition + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        age_h = round((ev.now - end_of_day).total_seconds() / 3600, 2)
        ok = age_h <= rules.max_partition_age_hours
        checks.append(
            Check(
                "freshness",
                age_h,
                f"<= {rules.max_partition_age_hours:g} h",
                PASS if ok else FAIL,
                f"newest training partition {ev.newest_partition.isoformat()} ended {age_h} h before {ev.now.isoformat()}",
            )
        )
    if rules.refuse_open_anomalies:
        checks.append(
            Check(
                "anomalies",
                len(ev.anomalies),
                "== 0 open",
                PASS if not ev.anomalies else FAIL,
                "; ".join(a.describe() for a in ev.anomalies) or "none open on the training partitions",
            )
        )
    return checks


def _drift_checks(ev: Evidence, policy: Policy) -> list[Check]:
    checks: list[Check] = []
    for feat in policy.drift.features:
        result = ev.drift.get(feat.name)
        for stat, bound in (("psi", feat.psi_max), ("js", feat.js_max)):
            if bound is None:
                continue
            name = f"drift.{feat.name}.{stat}"
            if result is None or result.error:
                msg = result.error if result is not None and result.error else f"{feat.name}: drift not measured"
                checks.append(Check(name, None, f"<= {bound:g}", ERROR, msg))
                continue
            value = result.psi if stat == "psi" else result.js
            ok = value is not None and value <= bound
            checks.append(
                Check(
                    name,
                    value,
                    f"<= {bound:g}",
                    PASS if ok else FAIL,
                    f"{feat.name} {stat} {_fmt(value)} (train {'..'.join(result.train_window)} n={result.n_train}, "
                    f"serving {'..'.join(result.serving_window)} n={result.n_serving})",
                )
            )
    return checks


# ---- metric checks -------------------------------------------------------------------------------
def required_value(rule: MetricRule, reference: float) -> float:
    """The value the candidate must reach against ``reference`` (MLflow MetricThreshold rules)."""
    sign = 1.0 if rule.greater_is_better else -1.0
    bounds: list[float] = []
    if rule.min_absolute_change is not None:
        bounds.append(reference + sign * rule.min_absolute_change)
    if rule.min_relative_change is not None:
        if reference == 0 and rule.min_relative_change > 0:
            bounds.append(reference + sign * ZERO_BASELINE_STEP)
        else:
            bounds.append(reference + sign * rule.min_relative_change * abs(reference))
    if not bounds:
        bounds.append(reference)  # `against` alone: at least as good as the reference
    return max(bounds) if rule.greater_is_better else min(bounds)


def _meets(rule: MetricRule, value: float, required: float) -> bool:
    return value >= required if rule.greater_is_better else value <= required


def _metric_checks(ev: Evidence, policy: Policy) -> list[Check]:
    checks: list[Check] = []
    has_champion = ev.champion_version is not None and ev.champion_version != ev.version
    op = {True: ">=", False: "<="}
    # The champion check is always present: on_no_champion applies without comparisons too.
    if has_champion:
        checks.append(Check("champion", f"v{ev.champion_version}", "present", PASS, "current champion"))
    elif ev.champion_version == ev.version:
        checks.append(
            Check("champion", f"v{ev.champion_version}", "present", PASS, "the candidate is already champion")
        )
    else:
        promote = policy.on_no_champion == OnNoChampion.PROMOTE
        checks.append(
            Check(
                "champion",
                "none",
                f"on_no_champion={policy.on_no_champion.value}",
                PASS if promote else FAIL,
                "no champion yet: champion comparisons skipped"
                if promote
                else "no champion yet and the policy refuses a first promotion (on_no_champion=refuse)",
            )
        )
    for rule in policy.metrics:
        value = ev.metrics.get(rule.metric)
        g = rule.greater_is_better
        if rule.threshold is not None:
            name = f"metric.{rule.metric}"
            if value is None:
                checks.append(
                    Check(name, None, f"{op[g]} {rule.threshold:g}", ERROR, f"candidate run has no metric {rule.metric}")
                )
            else:
                ok = value >= rule.threshold if g else value <= rule.threshold
                checks.append(
                    Check(
                        name,
                        value,
                        f"{op[g]} {rule.threshold:g}",
                        PASS if ok else FAIL,
                        f"{rule.metric}: candidate {_fmt(value)} {'meets' if ok else 'misses'} threshold {rule.threshold:g}",
                    )
                )
        if rule.against is None:
            continue
        name = f"metric.{rule.metric}.vs_{rule.against}"
        changes = ", ".join(
            f"{k} {v:g}"
            for k, v in (("min_absolute_change", rule.min_absolute_change), ("min_relative_change", rule.min_relative_change))
            if v is not None
        )
        if rule.against == CHAMPION_TARGET:
            if not has_champion:
                continue
            ref_label = f"champion v{ev.champion_version}"
            reference = ev.champion_metrics.get(rule.metric)
            ref_missing = f"champion v{ev.champion_version} has no metric {rule.metric}"
        else:
            ref_key = rule.reference_key or ""
            ref_label = f"baseline {ref_key}"
            reference = ev.metrics.get(ref_key)
            ref_missing = f"candidate run has no baseline metric {ref_key}"
        if value is None or reference is None:
            missing = f"candidate run has no metric {rule.metric}" if value is None else ref_missing
            checks.append(Check(name, value, f"{op[g]} {ref_label} ({changes or 'no change'})", ERROR, missing))
            continue
        required = required_value(rule, reference)
        ok = _meets(rule, value, required)
        verdict_word = "meets" if ok else ("regresses against" if rule.against == CHAMPION_TARGET else "misses")
        checks.append(
            Check(
                name,
                value,
                f"{op[g]} {required:.4g}",
                PASS if ok else FAIL,
                f"{rule.metric}: candidate v{ev.version} {_fmt(value)} {verdict_word} {ref_label} {_fmt(reference)} "
                f"(required {op[g]} {required:.4g}; {changes or 'no change'})",
            )
        )
    return checks


def decide(evidence: Evidence, policy: Policy) -> Decision:
    """Evaluate every condition of ``policy`` on ``evidence``.

    Returns:
        The decision with one check per condition; ``reason`` names the failing or erroring checks.
    """
    ev = evidence
    if ev.errors:
        checks = [Check("evidence", None, "complete", ERROR, e) for e in ev.errors]
        return Decision(ev.model_name, ev.version, ERROR, "; ".join(ev.errors), checks, champion_version=ev.champion_version)
    checks = _data_checks(ev, policy) + _drift_checks(ev, policy) + _metric_checks(ev, policy)
    errors = [c for c in checks if c.verdict == ERROR]
    fails = [c for c in checks if c.verdict == FAIL]
    if errors:
        verdict, reason = ERROR, "; ".join(f"{c.name}: {c.detail}" for c in errors)
    elif fails:
        verdict, reason = FAIL, "; ".join(f"{c.name}: {c.detail}" for c in fails)
    else:
        verdict = PASS
        reason = f"all {len(checks)} checks passed"
        if ev.champion_version is None and any(c.name == "champion" for c in checks):
            reason += " (no champion yet; on_no_champion=promote)"
    return Decision(ev.model_name, ev.version, verdict, reason, checks, champion_version=ev.champion_version)
