"""``python -m edgecc`` runs the command line."""

from edgecc.tools.cli import main

main()
