"""``python -m mlimpute ...``: the same as the ``mlimpute`` command (where a console
script is not on the PATH, e.g. inside a venv that is not activated)."""
from .frontends.cli import main

raise SystemExit(main())
