"""The catalog's closed vocabularies (kinds, statuses) as ``StrEnum`` classes.

Each one backs a ``text`` column plus a CHECK constraint (see :func:`assay.catalog.models.base.one_of`),
so Python code and the database agree on one list of values.
"""

from __future__ import annotations

from enum import StrEnum


class SourceKind(StrEnum):
    SQL = "sql"
    FILES = "files"


class AssetKind(StrEnum):
    TABLE = "table"
    VIEW = "view"
    FILE = "file"
    PARTITIONED = "partitioned"


class AssetStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"
    ERROR = "error"


class SchemaEventType(StrEnum):
    COLUMN_ADDED = "column_added"
    COLUMN_REMOVED = "column_removed"
    TYPE_CHANGED = "type_changed"
    NULLABILITY_CHANGED = "nullability_changed"
    ASSET_CREATED = "asset_created"
    ASSET_DELETED = "asset_deleted"
    ASSET_RESTORED = "asset_restored"


class ClassificationKind(StrEnum):
    PII = "pii"
    SEMANTIC = "semantic"


class ClassificationMethod(StrEnum):
    NAME = "name"
    PATTERN = "pattern"
    EMBEDDING = "embedding"
    OVERRIDE = "override"


class DecisionSource(StrEnum):
    """Who produced a classification; a ``steward`` row wins over the ``auto`` row beside it."""

    AUTO = "auto"
    STEWARD = "steward"


class RunStatus(StrEnum):
    """Inventory, profiling and training runs: a row is written at start, finished at the end."""

    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"  # some assets failed, the rest were recorded (inventory)
    FAILED = "failed"


class QualityStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"  # no critical failure (warnings allowed)
    FAILED = "failed"  # at least one critical expectation failed
    ERROR = "error"  # the validation itself could not run


class AnomalyStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Dimension(StrEnum):
    COMPLETENESS = "completeness"
    UNIQUENESS = "uniqueness"
    VALIDITY = "validity"
    CONSISTENCY = "consistency"
    TIMELINESS = "timeliness"
    VOLUME = "volume"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


class ReviewKind(StrEnum):
    QUALITY_FAILURE = "quality_failure"
    ANOMALY = "anomaly"
    SCHEMA_CHANGE = "schema_change"
    CLASSIFICATION = "classification"
    SUGGESTED_SUITE = "suggested_suite"  # a proposal waiting for accept/reject (assay suggest)
    PII_FINDING = "pii_finding"  # PII-looking values in a column not classified as PII


class ReviewStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Decision(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
