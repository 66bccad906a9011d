"""Human-in-the-loop review of a quality run's critical failures (the ``quality`` DAG's ``review`` task).

When a day's partitions have unwaived critical failures, :class:`QualityReview` (Airflow's
``HITLOperator``, standard provider) asks a steward in the UI's Required Actions — or through
``PATCH /api/v2/dags/quality/dagRuns/{run_id}/taskInstances/review/-1/hitlDetails`` — to choose:

* **Waive** (form: ``reason``, ``expires_on``, optional ``comment``): one waiver per failed
  expectation and partition, recorded with the responding Airflow user (through the steward
  service, which writes the audit row); the failed suites are validated again (a new attempt of
  the same run key, the failures now marked waived) and the day's validated partitions are
  published as the ``validated`` asset event, so ``train`` and ``promote`` go on.
* **Fail**: the task fails with the summary (``AirflowFailException``, no retry), as without review.

No answer within ``review_hours`` is a *Fail* (the operator's default option, applied by the
scheduler's timeout sweep). Who is never asked (see :func:`review_hours`): manual runs, including
``airflow dags test`` and ``make demo``, and backfills, unless their ``review_hours`` Param says
otherwise; there ``enforce`` fails the run as before.

The body is markdown built from the stored (already PII-masked) results: each failed expectation
with its column, unexpected count, observed value and at most :data:`MAX_EXAMPLES` masked examples,
every value escaped, with links to the steward pages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param

from assay.config import Settings
from assay.errors import ConfigError

WAIVE = "Waive"
FAIL = "Fail"
#: Hours a scheduled or asset-triggered run waits for a steward before it fails.
DEFAULT_REVIEW_HOURS = 24.0
#: A waiver granted from the review task expires at most this many days from the answer.
MAX_WAIVER_DAYS = 90
#: Masked examples shown per failed expectation.
MAX_EXAMPLES = 5
#: Run types whose runs nobody is waiting to review by default (``dags test`` runs are manual).
UNATTENDED_RUN_TYPES = frozenset({"manual", "backfill"})
#: Where the steward pages are mounted in the API server (plugins/assay_plugin.py).
STEWARD_PREFIX = "/assay"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


class ReviewAnswerError(ConfigError):
    """A *Waive* answer whose form fields are missing or out of bounds (the message names the field)."""


def review_params() -> dict[str, Param]:
    """The HITL form: all optional in the schema (a *Fail* needs none); :func:`parse_waive` checks a *Waive*."""
    return {
        "reason": Param(None, type=["null", "string"], maxLength=500,
                        description="why the failures are acceptable (required to waive)"),
        "expires_on": Param(None, type=["null", "string"], format="date",
                            description=f"waivers expire on this day (YYYY-MM-DD, after today, at most "
                                        f"{MAX_WAIVER_DAYS} days ahead; required to waive)"),
        "comment": Param(None, type=["null", "string"], maxLength=2000, description="optional note"),
    }


def review_hours_param() -> Param:
    """The DAG Param that sets how long the review waits (0 = do not ask)."""
    return Param(
        None,
        type=["null", "number"],
        minimum=0,
        maximum=24 * 14,
        description=(f"hours a steward has to waive or fail critical failures; 0 = do not ask; empty = "
                     f"{DEFAULT_REVIEW_HOURS:g} for scheduled and asset-triggered runs, 0 for manual runs "
                     "(UI trigger, airflow dags test, make demo) and backfills"),
    )


def review_hours(value: Any, run_type: str | None) -> float:
    """Hours to wait for an answer: the Param when set, else by who started the run (see the module doc)."""
    if value is not None:
        return float(value)
    return 0.0 if (run_type or "") in UNATTENDED_RUN_TYPES else DEFAULT_REVIEW_HOURS


def md(value: Any, limit: int = 120) -> str:
    """``value`` as inert markdown text: one line, at most ``limit`` characters, specials escaped."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


@dataclass(frozen=True)
class Failing:
    """One partition with unwaived critical failures, from a quality summary."""

    key: str  # <target>:<partition>
    suite: str
    quality_run_id: int | None
    expectations: tuple[str, ...]


def critical_failures(summary: Mapping[str, Any]) -> list[Failing]:
    """Partitions of a :meth:`QualityReport.summary` failing only on critical expectations (reviewable).

    A partition that also has evaluation errors is not offered for waiving: an error is not a data
    verdict a steward can accept.
    """
    out = []
    for key, p in (summary.get("partitions") or {}).items():
        if p.get("status") == "failed" and p.get("critical") and not p.get("errors") and not p.get("error"):
            out.append(Failing(key, p["suite"], p.get("quality_run_id"), tuple(p["critical"])))
    return out


def _examples(details: Mapping[str, Any]) -> list[str]:
    if details.get("partial_unexpected_counts"):
        return [f"{md(c.get('value'), 60)} (×{c.get('count')})"
                for c in details["partial_unexpected_counts"][:MAX_EXAMPLES] if isinstance(c, Mapping)]
    return [md(v, 60) for v in (details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]]


def _results(settings: Settings, failing: Sequence[Failing]) -> dict[tuple[int, str], Any]:
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ExpectationResult

    run_ids = [f.quality_run_id for f in failing if f.quality_run_id is not None]
    if not run_ids:
        return {}
    with session(settings.catalog_url()) as s:
        rows = s.execute(select(ExpectationResult).where(ExpectationResult.quality_run_id.in_(run_ids),
                                                         ExpectationResult.success.is_(False))).scalars().all()
        s.expunge_all()
    return {(r.quality_run_id, r.expectation_id): r for r in rows}


def review_body(settings: Settings, summary: Mapping[str, Any], failing: Sequence[Failing], hours: float) -> str:
    """The markdown shown to the steward: what failed, masked evidence, links, what each answer does."""
    results = _results(settings, failing)
    lines = [f"**{sum(len(f.expectations) for f in failing)} critical expectation(s) failed** on "
             f"{len(failing)} partition(s) of {md(summary.get('logical_date'))} "
             f"(run {md(summary.get('run_key'), 200)}).", ""]
    for f in failing:
        run_link = (f" — [results]({STEWARD_PREFIX}/quality/runs/{int(f.quality_run_id)})"
                    if f.quality_run_id is not None else "")
        lines.append(f"### {md(f.key)} (suite {md(f.suite)}){run_link}")
        for exp in f.expectations:
            r = results.get((f.quality_run_id or -1, exp))
            if r is None:
                lines.append(f"- **{md(exp)}**")
                continue
            column = f" on column {md(r.column_name)}" if r.column_name else ""
            count = f", {r.unexpected_count} unexpected" if r.unexpected_count is not None else ""
            pct = f" ({r.unexpected_percent:.2f} %)" if r.unexpected_percent is not None else ""
            observed = f", observed {md(r.observed_value, 80)}" if r.observed_value is not None else ""
            lines.append(f"- **{md(exp)}** — {md(r.expectation_type)}{column}, {md(r.dimension)}{count}{pct}{observed}")
            examples = _examples(r.details or {})
            if examples:
                masked = " (masked)" if (r.details or {}).get("masked") else ""
                lines.append(f"  - examples{masked}: " + "; ".join(examples))
        lines.append("")
    lines += [f"Steward pages: [quality]({STEWARD_PREFIX}/quality) · [review queue]({STEWARD_PREFIX}/review) · "
              f"[waivers]({STEWARD_PREFIX}/waivers)"
              + (" · Data Docs: the *Data Docs* menu entry" if summary.get("data_docs") else ""), "",
              f"**{WAIVE}** records one waiver per failed expectation and partition (fill *reason* and "
              f"*expires_on*, at most {MAX_WAIVER_DAYS} days ahead), validates these suites again and "
              f"publishes the day. **{FAIL}** fails the run. No answer within {hours:g} h fails it."]
    return "\n".join(lines)


@dataclass(frozen=True)
class WaiveAnswer:
    reason: str
    expires_on: dt.date
    comment: str | None

    @property
    def text(self) -> str:
        """What the waiver row's reason says."""
        return self.reason + (f" — {self.comment}" if self.comment else "")


def parse_waive(params_input: Mapping[str, Any], today: dt.date, max_days: int = MAX_WAIVER_DAYS) -> WaiveAnswer:
    """Validate a *Waive* answer's form.

    Raises:
        ReviewAnswerError: ``reason`` empty, ``expires_on`` missing, not a date, not after ``today``
            or more than ``max_days`` ahead.
    """
    reason = (params_input.get("reason") or "").strip()
    if not reason:
        raise ReviewAnswerError("review answer Waive: `reason` is required")
    raw = params_input.get("expires_on")
    if not raw:
        raise ReviewAnswerError("review answer Waive: `expires_on` is required (YYYY-MM-DD)")
    try:
        expires = dt.date.fromisoformat(str(raw).strip()[:10])
    except ValueError:
        raise ReviewAnswerError(f"review answer Waive: `expires_on` {str(raw)[:40]!r} is not a date (YYYY-MM-DD)") from None
    if expires <= today:
        raise ReviewAnswerError(f"review answer Waive: `expires_on` {expires} must be after today ({today})")
    if expires > today + dt.timedelta(days=max_days):
        raise ReviewAnswerError(f"review answer Waive: `expires_on` {expires} is more than {max_days} days ahead")
    comment = (params_input.get("comment") or "").strip() or None
    return WaiveAnswer(reason, expires, comment)


def responder(event_or_result: Mapping[str, Any]) -> str | None:
    """The responding Airflow user's name (``None``: nobody answered, the timeout default applied)."""
    user = event_or_result.get("responded_by_user")
    if not user:
        return None
    return str(user.get("name") or user.get("id")) if isinstance(user, Mapping) else str(user)


def write_waivers(settings: Settings, failing: Sequence[Failing], day: dt.date, answer: WaiveAnswer,
                  actor: str) -> list[int]:
    """One waiver per failed expectation and partition, recorded with ``actor`` (audited when the steward service exists)."""
    from assay.catalog.db import session
    from assay.catalog.models import QualityRun

    with session(settings.catalog_url()) as s:
        assets = {f.quality_run_id: s.get(QualityRun, f.quality_run_id).asset_id  # type: ignore[union-attr]
                  for f in failing if f.quality_run_id is not None}
    try:
        from assay.steward.service import WaiverRequest, waive
    except ImportError:  # the steward service layer is optional here: fall back to the primitive
        waive = None  # type: ignore[assignment]
    ids: list[int] = []
    for f in failing:
        asset: int | str = assets[f.quality_run_id] if f.quality_run_id in assets else f.key.rpartition(":")[0]
        for exp in f.expectations:
            if waive is not None:
                view = waive(settings, actor, WaiverRequest(asset=asset, suite=f.suite, expectation=exp,
                                                            partition_from=day, partition_to=day,
                                                            expires_at=answer.expires_on, reason=answer.text))
                ids.append(int(view.id))
            else:
                from assay.quality.waivers import add_waiver

                ids.append(add_waiver(settings, asset=asset, suite=f.suite, expectation=exp, reason=answer.text,
                                      created_by=actor, valid_from=day,
                                      valid_until=min(day + dt.timedelta(days=1), answer.expires_on)))
    return ids


class QualityReview(HITLOperator):
    """The ``review`` task: ask a steward to waive or fail a day's critical failures (module doc)."""

    def __init__(self, *, summary_task: str = "validate", **kwargs: Any) -> None:
        # response_timeout is set at init so that HITLOperator does not turn the DAG's execution_timeout
        # into the response wait; execute() replaces it with the run's review_hours.
        kwargs.setdefault("response_timeout", dt.timedelta(hours=DEFAULT_REVIEW_HOURS))
        # The form is this task's own Params; the DAG's (which apply_defaults passes along) stay DAG-level
        # and still reach context["params"].
        kwargs.pop("params", None)
        super().__init__(subject="quality: critical failures need a steward", options=[WAIVE, FAIL],
                         defaults=[FAIL], params=review_params(), **kwargs)
        self.summary_task = summary_task

    def _summary(self, context: Any) -> dict[str, Any]:
        return context["ti"].xcom_pull(task_ids=self.summary_task) or {}

    def execute(self, context: Any) -> Any:
        """Skip when nothing is reviewable or nobody is asked; else write the request and wait."""
        from airflow.sdk.exceptions import AirflowSkipException

        from assay.config import get_settings

        summary = self._summary(context)
        failing = critical_failures(summary)
        if not failing:
            raise AirflowSkipException("no unwaived critical failure to review")
        run_type = str(getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type))
        hours = review_hours(context["params"].get("review_hours"), run_type)
        if hours <= 0:
            raise AirflowSkipException(f"no steward asked (review_hours 0 for this {run_type} run); enforce fails the run")
        self.response_timeout = dt.timedelta(hours=hours)
        self.subject = f"quality {summary.get('logical_date')}: waive or fail {len(failing)} partition(s)"
        self.body = review_body(get_settings(), summary, failing, hours)
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Apply the answer: *Fail* (or the timeout default) fails; *Waive* waives, re-validates, publishes."""
        from airflow.sdk.exceptions import AirflowFailException

        from assay.assets import VALIDATED
        from assay.config import get_settings
        from assay.orchestration import run_key
        from assay.quality import run_quality
        from assay.quality.report import failure_text

        result = super().execute_complete(context, event)
        summary = self._summary(context)
        who = responder(result)
        if result["chosen_options"] != [WAIVE]:
            why = f"failed by {who}" if who else "no steward answered in time"
            raise AirflowFailException(f"{why}: {failure_text(summary)}")
        if who is None:  # a Waive can never be a default; refuse an anonymous one all the same
            raise AirflowFailException("a Waive answer without a responding user is not accepted")
        settings, day = get_settings(), dt.date.fromisoformat(str(summary["logical_date"])[:10])
        try:
            answer = parse_waive(result["params_input"] or {}, dt.datetime.now(dt.UTC).date())
            failing = critical_failures(summary)
            ids = write_waivers(settings, failing, day, answer, who)
        except ConfigError as exc:
            raise AirflowFailException(f"{exc} (clear the review task to be asked again)") from None
        self.log.info("waivers %s recorded for %s", ids, who)
        params = context["params"]
        again = run_quality(settings, day, run_key(context, params), assets=sorted({f.suite for f in failing}),
                            result_format=params.get("result_format") or "SUMMARY", raise_on_failure=False).summary()
        text = failure_text(again)
        if text:
            raise AirflowFailException(f"waived by {who} (waivers {ids}), still failing: {text}")
        partitions = sorted(set(summary.get("validated_partitions") or []) | set(again["validated_partitions"]))
        context["outlet_events"][VALIDATED].extra = {
            "logical_date": summary["logical_date"], "partitions": partitions,
            "waivers": ids, "waived_by": who,
        }
        return {**again, "validated_partitions": partitions, "reviewed_by": who, "review_waivers": ids}
