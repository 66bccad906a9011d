"""The promotion policy: a YAML file (``config/promotion_policy.yaml``) validated on load.

The file says what a candidate must show before ``champion`` may move to it: conditions on the data
it was trained on (quality, freshness, anomalies, train-vs-serving drift) and on its metrics
(absolute thresholds, comparisons with the current champion and with the baselines scored on the
same split). Comparisons follow :class:`mlflow.models.MetricThreshold` (see docs/gate.md).

Errors name the file and the field path, e.g.
``config/promotion_policy.yaml: metrics[1].min_relative_change: Input should be less than or equal to 1``.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assay import names
from assay.config import Settings
from assay.errors import ConfigError

#: Features the drift checks know how to compute from the shop (see :mod:`assay.gate.drift`).
FEATURES: tuple[str, ...] = ("query_length", "category_mix", "price")
#: Where a metric rule compares the candidate: with the current champion or with a baseline.
CHAMPION_TARGET = "champion"

_SLICE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


class PolicyError(ConfigError):
    """The promotion policy file is missing, malformed or names unknown metrics or features."""


class OnNoChampion(StrEnum):
    PROMOTE = "promote"
    REFUSE = "refuse"


class AliasProtection(StrEnum):
    """What :mod:`assay.gate.reconcile` does with an alias the decision ledger does not back."""

    #: Report it (the reconcile run fails, the alias stays where it is).
    REPORT = "report"
    #: Move it back to where the ledger last put it (or remove it) and record the move.
    RESTORE = "restore"


class RequireApproval(StrEnum):
    """When a passing decision waits for a person before ``champion`` moves (:mod:`assay.gate.approval`)."""

    #: Every passing candidate needs an approval.
    ALWAYS = "always"
    #: Only a candidate whose training data relied on waived results (a waiver covers a failure).
    WHEN_WAIVED = "when_waived"
    #: The gate moves ``champion`` on ``pass`` by itself.
    NEVER = "never"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def split_metric(name: str) -> tuple[str, str | None]:
    """``ndcg_at_10.category.furniture`` -> ``("ndcg_at_10", "category.furniture")``.

    Raises:
        ValueError: the metric is not one of :data:`assay.names.METRICS` or the slice is not a slug.
    """
    base, _, slice_name = name.partition(".")
    if base not in names.METRICS:
        raise ValueError(f"unknown metric {name!r}: metrics are {', '.join(names.METRICS)}, optionally .<slice>")
    if slice_name and not _SLICE.match(slice_name):
        raise ValueError(f"slice of {name!r} must be a lower-case slug such as head or category.furniture")
    return base, slice_name or None


class MetricRule(_Strict):
    """One metric condition, with :class:`mlflow.models.MetricThreshold` semantics.

    ``metric`` is ``<metric>`` or ``<metric>.<slice>`` (``ndcg_at_10.tail``). ``against`` is
    ``champion`` (the current champion's value of the same key), a baseline name (``bm25``: the
    candidate run's ``bm25.<metric>``), or absent (only ``threshold`` applies).

    Unlike MLflow, ``min_absolute_change`` and ``min_relative_change`` may be negative: ``-0.01``
    means "at most 0.01 worse than the reference", a tolerated regression.
    """

    metric: str
    threshold: float | None = None
    against: str | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = Field(default=None, ge=-1, le=1)
    greater_is_better: bool = True

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        split_metric(v)
        return v

    @field_validator("against")
    @classmethod
    def _known_target(cls, v: str | None) -> str | None:
        if v is not None and v != CHAMPION_TARGET and v not in names.BASELINES:
            raise ValueError(f"against must be {CHAMPION_TARGET!r} or a baseline ({', '.join(names.BASELINES)})")
        return v

    @model_validator(mode="after")
    def _something_to_check(self) -> MetricRule:
        has_change = self.min_absolute_change is not None or self.min_relative_change is not None
        if self.against is None and has_change:
            raise ValueError("min_absolute_change / min_relative_change need `against` (champion or a baseline)")
        if self.against is None and self.threshold is None:
            raise ValueError("no threshold was specified: give `threshold`, or `against` with a minimum change")
        return self

    @property
    def reference_key(self) -> str | None:
        """The MLflow key the candidate's value is compared with, for baselines."""
        if self.against is None or self.against == CHAMPION_TARGET:
            return None
        base, slice_name = split_metric(self.metric)
        return names.baseline_key(self.against, base, slice_name)


class DriftFeature(_Strict):
    """Bounds on one feature's drift between the training window and recent serving traffic."""

    name: str
    psi_max: float | None = Field(default=None, gt=0)
    js_max: float | None = Field(default=None, gt=0, le=1)
    bins: int = Field(default=10, ge=2, le=100)

    @field_validator("name")
    @classmethod
    def _known_feature(cls, v: str) -> str:
        if v not in FEATURES:
            raise ValueError(f"unknown feature {v!r}: features are {', '.join(FEATURES)}")
        return v

    @model_validator(mode="after")
    def _a_bound(self) -> DriftFeature:
        if self.psi_max is None and self.js_max is None:
            raise ValueError(f"feature {self.name}: give psi_max and/or js_max")
        return self


class Drift(_Strict):
    """Serving traffic = the shop's days ``[now - recent_days, now)``; training = the dataset window."""

    recent_days: int = Field(default=7, ge=1, le=365)
    features: list[DriftFeature] = Field(default_factory=list)

    @field_validator("features")
    @classmethod
    def _unique(cls, v: list[DriftFeature]) -> list[DriftFeature]:
        seen = [f.name for f in v]
        dupes = sorted({n for n in seen if seen.count(n) > 1})
        if dupes:
            raise ValueError(f"feature listed twice: {', '.join(dupes)}")
        return v


class DataRules(_Strict):
    """Conditions on the candidate's exact training snapshot."""

    #: Unwaived failed warning-severity expectations tolerated over the whole snapshot.
    max_warning_failures: int = Field(default=0, ge=0)
    #: Age of the newest training partition (end of its day, UTC) at decision time.
    max_partition_age_hours: float = Field(default=48, gt=0)
    #: Every training partition must have a quality run (an unvalidated partition fails).
    require_quality_runs: bool = True
    #: An open anomaly on a training asset partition refuses the candidate.
    refuse_open_anomalies: bool = True


class Policy(_Strict):
    """The whole promotion policy."""

    version: Literal[1] = 1
    on_no_champion: OnNoChampion = OnNoChampion.REFUSE
    #: Registry aliases moved outside the gate (MLflow UI, API): report only, or restore from the ledger.
    alias_protection: AliasProtection = AliasProtection.REPORT
    #: A person approves (Airflow's ApprovalOperator in ``promote``) before a passing candidate becomes champion.
    require_approval: RequireApproval = RequireApproval.NEVER
    data: DataRules = Field(default_factory=DataRules)
    drift: Drift = Field(default_factory=Drift)
    metrics: list[MetricRule] = Field(default_factory=list)
    #: A policy without metric rules would promote on data checks alone; it must say so.
    allow_no_metric_checks: bool = False

    @model_validator(mode="after")
    def _judges_the_model(self) -> Policy:
        if not self.metrics and not self.allow_no_metric_checks:
            raise ValueError(
                "no metric check (metrics is empty): a candidate would be promoted on data checks "
                "alone; add a rule, or set allow_no_metric_checks: true to mean it"
            )
        return self

    def as_json(self) -> dict[str, Any]:
        """The policy as plain JSON (what the decision row stores)."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """sha256 of the canonical JSON: two files that mean the same thing share a digest."""
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()


def default_path(settings: Settings) -> Path:
    """``config/promotion_policy.yaml`` of the project."""
    return settings.project_root / "config" / "promotion_policy.yaml"


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def parse(raw: Any, origin: str) -> Policy:
    """Validate an already-parsed YAML document; errors are prefixed with ``origin``."""
    if not isinstance(raw, dict):
        raise PolicyError(f"{origin}: the policy must be a mapping, got {type(raw).__name__}")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{origin}: {_where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        raise PolicyError("\n".join(lines)) from None


def load(path: Path) -> Policy:
    """Read and validate a policy file.

    Raises:
        PolicyError: the file is missing, is not YAML, or breaks the schema (message names file and field).
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PolicyError(f"{path}: promotion policy not found") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    return parse(raw, str(path))
