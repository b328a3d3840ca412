"""Imported once by the crash trials' fork server: boots one tiny model so that the lazy
imports behind ``TransformerBridge.boot_native`` (seconds) are paid once, not per child.

One intra-op thread before any torch work: the fork server never holds a thread pool
that its children would inherit half-initialised.
"""

import torch

torch.set_num_threads(1)

from tdw.family.model import boot_model  # noqa: E402
from tdw.family.registry import get_family  # noqa: E402

_family = get_family("modulo_addition_1l")
boot_model(_family.model_config(_family.resolve({"p": 7})))

