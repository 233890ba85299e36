"""``python -m symcalc`` runs the command-line interface."""

from symcalc.cli.entry import main

raise SystemExit(main())
