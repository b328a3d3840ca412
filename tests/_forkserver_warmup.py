"""Imported once by the crash trials' fork server: boots one tiny model so that the lazy
imports behind ``TransformerBridge.boot_native`` (seconds) are paid once, not per child.

One intra-op thread before any torch work: the fork server never holds a thread pool
that its children would inherit half-initialised.
"""

import torch

torch.set_num_threads(1)

from tdw.model import boot_model  # noqa: E402
from tdw.registry import get_family  # noqa: E402

_family = get_family("modulo_addition_1l")
boot_model(_family.model_config(_family.resolve({"p": 7})))

# Trial targets live in test modules named ``tests.<module>`` (pytest's importlib mode); the
# repository root goes last on the path, after the installed tdw imported above, so that it
# finds ``tests`` without shadowing the installed package with the source folder.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent.parent))

