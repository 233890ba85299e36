"""``python -m symcalc.cli`` runs the command-line interface."""

from symcalc.cli.entry import main

raise SystemExit(main())
