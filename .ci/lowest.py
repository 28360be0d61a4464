"""Print a pip constraints file that pins every direct dependency of pyproject.toml (core,
and the extras named on the command line) at the lowest version its range allows.

    python .ci/lowest.py test > lowest.txt
    pip install -c lowest.txt -e ".[test]"

`make test-lowest` runs a fast part of the suite in such an environment, so that the
lower bounds pyproject promises are tested; a bound that fails there is raised.
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def lowest(requirement: str) -> str | None:
    """'numpy>=1.24' -> 'numpy==1.24'; None for a requirement without a lower bound."""
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    name, rest = match.group(1), match.group(3)
    bound = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", rest)
    return f"{name}=={bound.group(1)}" if bound else None


def main(extras: list[str]) -> int:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins = [pin for pin in map(lowest, requirements) if pin]
    print("# lowest versions pyproject.toml allows (.ci/lowest.py); generated, do not edit")
    print("\n".join(sorted(set(pins), key=str.lower)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
