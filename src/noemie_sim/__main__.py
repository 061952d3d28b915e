"""``python -m noemie_sim`` runs the ``noemie-sim`` command."""

import sys

from noemie_sim.scenarios.cli import main

sys.exit(main())
