"""Typed exceptions. Each carries a message a person can act on."""

from __future__ import annotations


class AssayError(Exception):
    """Base of every error assay raises on purpose."""


class ConfigError(AssayError):
    """Settings are missing or contradictory."""


class DatabaseError(AssayError):
    """A database cannot be started, reached or migrated."""


class SourceError(AssayError):
    """A source (table or file) cannot be read; names the asset."""


class QualityError(AssayError):
    """Critical expectations failed; carries the summary."""


class TrainingError(AssayError):
    """Training cannot start or diverged."""


class GateError(AssayError):
    """The promotion gate could not reach a decision."""
