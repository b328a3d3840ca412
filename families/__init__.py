"""Built-in families, installed as ``tdw.families``; each folder is one family.

Registration is explicit: a family ships here only when it is named in ``BUILTIN``.
"""

BUILTIN: tuple[str, ...] = ("modulo_addition_1l", "toy_operations",
                             "checkpoint_series", "induction_heads")
