"""Benchmarks: each prints the figures and ratios it measured in one run (python -m bench.<name>)."""
