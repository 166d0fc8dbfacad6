"""How the daemon starts a worker process of its own: the command line that runs this
very touchflow's ``main`` of a worker module.

The worker imports touchflow from where the daemon imported it (not whichever one its
``sys.path`` would find first), without adding anything to ``sys.path`` (``-P``).
Used by the dispatcher's worker and the full plan's workers.
"""

from __future__ import annotations

import sys
from pathlib import Path

_BOOT = """\
import importlib.util, pathlib, sys
package = pathlib.Path({package!r})
spec = importlib.util.spec_from_file_location(
    "touchflow", package / "__init__.py", submodule_search_locations=[str(package)]
)
module = importlib.util.module_from_spec(spec)
sys.modules["touchflow"] = module
spec.loader.exec_module(module)
from {module} import main
main()
"""
_PACKAGE = Path(__file__).resolve().parents[1]  # the touchflow folder


def worker_command(module: str) -> list[str]:
    """The argv that runs ``module``'s ``main()`` (a ``touchflow.send`` worker)."""
    return [sys.executable, "-P", "-c", _BOOT.format(package=str(_PACKAGE), module=module)]
