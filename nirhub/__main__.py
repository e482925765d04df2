"""``python -m nirhub`` runs the command line (the same as the ``nirhub`` script)."""

from nirhub.cli import main

main()
