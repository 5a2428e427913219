"""``python -m pylo``: the ``pylo`` command line."""

from ._ui.cli import main

main()
