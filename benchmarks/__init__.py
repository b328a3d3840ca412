"""tdw's benchmark suite: each figure measured side by side with a plain reference
implementation in the same run, after checking that both produce the same result.

Run ``python -m benchmarks`` from the repository root (``--help`` for options); the report
goes to ``docs/benchmarks.md``. CI runs ``--smoke`` (tiny sizes, agreement only).
"""
