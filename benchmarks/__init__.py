"""tdw's benchmark suite: each figure measured side by side with a plain reference
implementation in the same run, after checking that both produce the same result.

Run ``python -m benchmarks`` from the repository root (``--help`` for options); the report
goes to ``docs/benchmarks.md``. CI runs ``--smoke`` (tiny sizes, agreement only).
"""

import os as _os
import sys as _sys

# ``python -m benchmarks`` puts the repository root first on sys.path, where ``tdw/`` is the
# source folder: without an editable install it lacks ``tdw.families`` (installed from
# ``families/``). Moving the root to the end lets ``import tdw`` find the installed package,
# editable or not, while ``benchmarks`` itself stays importable.
_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
_sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _ROOT] + [_ROOT]
