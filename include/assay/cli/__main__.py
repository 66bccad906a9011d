"""``python -m assay.cli …`` (how training runs ``assay train`` in a subprocess)."""

from assay.cli.app import main

main()
