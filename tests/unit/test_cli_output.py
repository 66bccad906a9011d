"""Values the CLI prints cannot act on a terminal: control characters are shown, not sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.cli.output import echo, terminal_text

CLI = Path(__file__).resolve().parents[2] / "include" / "assay" / "cli"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("orders\x1b[2J\x1b[31mok", "orders[U+001B][2J[U+001B][31mok"),  # clear screen, colour
        ("fine\rFORGED LINE", "fine[U+000D]FORGED LINE"),  # carriage return rewrites the line
        ("invoice\u202egnp.exe", "invoice[U+202E]gnp.exe"),  # right-to-left override
        ("bell\x07 and nul\x00", "bell[U+0007] and nul[U+0000]"),
        ("c1 \x9b31m", "c1 [U+009B]31m"),  # 8-bit CSI
        ("two\nlines\tand a tab, ünïcode ✓", "two\nlines\tand a tab, ünïcode ✓"),  # left as they are
    ],
)
def test_control_characters_are_made_visible(raw, shown):
    assert terminal_text(raw) == shown


def test_echo_prints_the_visible_form(capsys):
    echo("asset \x1b]0;owned\x07 failed")
    echo("to stderr \x1b[1m", err=True)
    out, err = capsys.readouterr()
    assert out == "asset [U+001B]]0;owned[U+0007] failed\n"
    assert err == "to stderr [U+001B][1m\n"


def test_every_cli_module_prints_through_echo():
    offenders = [p.name for p in CLI.glob("*.py") if p.name != "output.py" and "typer.echo" in p.read_text()]
    assert offenders == []
