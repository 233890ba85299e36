"""``python -m symcalc.cli`` runs the command-line interface."""

from symcalc.cli.command import main

raise SystemExit(main())
