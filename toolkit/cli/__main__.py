"""`python -m toolkit.cli` runs the `tk` command (used by tests and distributed launches)."""

from . import main

main()
