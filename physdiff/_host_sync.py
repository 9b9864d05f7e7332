"""Counting host syncs: the reads that make the CPU wait for the accelerator.

On a GPU every ``tensor.item()``, ``bool(tensor)``, ``float(tensor)``, ``.tolist()``,
``.numpy()`` or ``.cpu()`` of a device tensor waits until the queue of launched kernels has
run: the GPU then idles while Python launches the next kernels. :class:`HostSyncCounter`
counts those calls, so a test can bound them per training step or per guided sampling call:

* on any device it patches the reading methods of :class:`torch.Tensor` (Python-level
  ``__bool__``, ``__float__``, ``__int__``, ``__index__``, ``item``, ``tolist``, ``numpy``,
  ``cpu``) and counts each call made from outside torch's own package (torch's optimiser
  reads its step counters, which live on the CPU by design, and is not ours to change);
* on CUDA it also turns on ``torch.cuda.set_sync_debug_mode("warn")`` and counts the
  warnings, which catches syncs inside torch's C++ as well (boolean-mask indexing,
  ``nonzero``, blocking copies).

With CUDA on, reads of tensors that live on the CPU are not counted (they do not sync). On
the CPU nothing waits; the Python count there is the number of places that *would* sync on a
GPU when the same code runs there with the tensors on the device (tensors that stay on the
CPU on purpose, e.g. the augmentation draws of a CPU generator, are counted too: an upper
bound).

Examples
--------
>>> import torch
>>> with HostSyncCounter() as syncs:
...     x = torch.ones(3)
...     y = float(x.sum()) + x.max().item()
>>> syncs.count
2
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from typing import Any

import torch

__all__ = ["HostSyncCounter"]

_METHODS = ("__bool__", "__float__", "__int__", "__index__", "item", "tolist", "numpy", "cpu")
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep


class HostSyncCounter:
    """Context manager counting host reads of tensors (see the module docstring).

    Attributes
    ----------
    count : int
        Python-level reads made from outside torch.
    where : collections.Counter
        ``"file:function method"`` -> calls, to find each one.
    cuda_count : int or None
        Syncs reported by CUDA's sync debug mode (None off CUDA).
    """

    def __init__(self, cuda: bool | None = None) -> None:
        self.cuda = torch.cuda.is_available() if cuda is None else bool(cuda)
        self.count = 0
        self.where: Counter[str] = Counter()
        self._saved: dict[str, Any] = {}
        self._warn: Any = None
        self._records: list[Any] = []

    def reset(self) -> None:
        """Zero the counts (the patches stay)."""
        self.count = 0
        self.where.clear()
        if self.cuda:
            torch.cuda.synchronize()
            self._records.clear()

    def _wrap(self, name: str, method: Any) -> Any:
        def wrapper(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            frame = sys._getframe(1)
            caller = frame.f_code.co_filename
            on_host = self.cuda and tensor.device.type == "cpu"  # no sync: not counted
            if not on_host and not caller.startswith(_TORCH_DIR):
                self.count += 1
                self.where[f"{os.path.basename(caller)}:{frame.f_code.co_name} {name}"] += 1
            return method(tensor, *args, **kwargs)

        return wrapper

    def __enter__(self) -> HostSyncCounter:
        for name in _METHODS:
            method = getattr(torch.Tensor, name)
            self._saved[name] = torch.Tensor.__dict__.get(name, _MISSING)
            setattr(torch.Tensor, name, self._wrap(name, method))
        if self.cuda:
            torch.cuda.synchronize()
            self._warn = warnings.catch_warnings(record=True)
            self._records = self._warn.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
        return self

    @property
    def cuda_count(self) -> int | None:
        """Syncs CUDA's sync debug mode has reported so far (None off CUDA)."""
        if not self.cuda:
            return None
        return sum("synchroniz" in str(w.message) for w in self._records)

    @property
    def cuda_where(self) -> dict[str, int] | None:
        """``"file:line"`` -> syncs reported there by CUDA's sync debug mode (None off CUDA)."""
        if not self.cuda:
            return None
        return dict(Counter(f"{os.path.basename(w.filename)}:{w.lineno}" for w in self._records
                            if "synchroniz" in str(w.message)))

    def __exit__(self, *exc: Any) -> None:
        if self.cuda:
            torch.cuda.set_sync_debug_mode(0)
            self._warn.__exit__(*exc)
        for name, saved in self._saved.items():
            if saved is _MISSING:
                delattr(torch.Tensor, name)
            else:
                setattr(torch.Tensor, name, saved)
        self._saved.clear()


_MISSING = object()
