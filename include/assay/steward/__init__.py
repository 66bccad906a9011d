"""The steward's actions (review items, waivers, overrides, proposals, rollback) as one audited service.

:mod:`assay.steward.service` is the one place these actions live: the CLI (``assay steward``), the
steward pages inside Airflow and the human-in-the-loop tasks call it. Every action writes its change
and a ``steward_audit`` row in one transaction. See ``docs/steward.md``.
"""
