"""Promotion gate: ``champion`` moves only on evidence, and every move is on the record (issue #6)."""
