"""assay: inventoried, profiled, tested data assets and evidence-gated models."""

__version__ = "0.1.0"
