"""``pip install -e .`` is quiet: setuptools reads pyproject.toml without a deprecation warning.

The build backend's own reading of the metadata (``setuptools.config.pyprojecttoml``, the code that
printed "`project.license` as a TOML table is deprecated" three times per install), run in-process
with every warning an error; and the build requirement names a setuptools that knows the SPDX form.
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_setuptools_reads_the_metadata_without_a_warning() -> None:
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert dist.metadata.name == "assay"
    assert dist.metadata.license_expression == "Apache-2.0"


def test_the_build_requires_a_setuptools_that_knows_spdx_licenses() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(meta["project"]["license"], str)  # SPDX expression, not the deprecated table
    assert meta["build-system"]["requires"] == ["setuptools>=77"]
