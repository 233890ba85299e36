"""``python -m symcalc`` runs the command-line interface."""

from symcalc.cli import main

raise SystemExit(main())
