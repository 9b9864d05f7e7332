"""One-shot regression baselines: the diffusion model's own U-Net, and neuraloperator's FNO.

Both map the conditioning channels of :mod:`physdiff.models.conditioning` (normalised rho,
boundary fields, masks, coordinates) to the normalised solution ``phi / s`` in one forward
pass, so they see exactly what the diffusion model sees and share its scale equivariance.

* ``unet``: :class:`physdiff.models.UNetDenoiserNet` built from the diffusion model's
  :class:`~physdiff.models.ModelConfig` — the identical backbone — with its "noisy phi"
  channel held at zero and its noise label at zero, trained with MSE.
* ``fno``: ``neuralop.models.FNO`` (optional extra ``physdiff[fno]``), padded with
  ``domain_padding`` because the boundary conditions are not periodic in general.

A baseline folder holds ``config.json`` and ``model.safetensors`` (no pickle), like a
diffusion model folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ..atomic import atomic_dir
from ..config_files import reject_unknown
from ..models import ModelConfig, UNetDenoiserNet, cond_from_batch
from ..models.io import load_weights, model_folder, read_folder_config

__all__ = ["BASELINE_KINDS", "FNO_DEFAULTS", "RegressionBaseline", "save_baseline",
           "load_baseline", "read_baseline_config", "require_neuralop"]

BASELINE_KINDS: tuple[str, ...] = ("unet", "fno")
#: FNO hyper-parameters used unless the caller gives others (``n_modes`` per axis).
FNO_DEFAULTS: dict[str, Any] = {"n_modes": [16, 16], "hidden_channels": 32, "n_layers": 4,
                                "domain_padding": 0.125}
_FORMAT = "physdiff-baseline"
_FORMAT_VERSION = 1


def require_neuralop() -> Any:
    """Import ``neuralop.models.FNO`` or explain how to install the optional extra."""
    try:
        from neuralop.models import FNO
    except ImportError:
        raise ValueError(
            "the FNO baseline needs neuraloperator; install it with "
            "`pip install 'physdiff[fno]'` (or `pip install neuraloperator`)"
        ) from None
    return FNO


class RegressionBaseline(nn.Module):
    """A one-shot surrogate ``cond -> phi / s`` (U-Net or FNO).

    Parameters
    ----------
    kind : {"unet", "fno"}
        Which network.
    model_config : ModelConfig or dict
        Grid, extent, boundary kinds and conditioning of the data; for ``unet`` also the
        backbone widths, depth and attention (those of the diffusion model it is compared to).
    fno : dict, optional
        FNO hyper-parameters (keys of :data:`FNO_DEFAULTS`), ``kind="fno"`` only.

    Examples
    --------
    >>> import torch
    >>> cfg = ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
    ...                   attention_levels=[False, False])
    >>> net = RegressionBaseline("unet", cfg)
    >>> net(torch.zeros(3, cfg.n_cond_channels, 16, 16)).shape
    torch.Size([3, 1, 16, 16])
    """

    def __init__(self, kind: str, model_config: ModelConfig | Mapping[str, Any],
                 fno: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if kind not in BASELINE_KINDS:
            raise ValueError(f"unknown baseline kind {kind!r}; use one of {BASELINE_KINDS}")
        if not isinstance(model_config, ModelConfig):
            model_config = ModelConfig.from_dict(dict(model_config))
        self.kind = kind
        self.config = model_config
        self.fno_config = {**FNO_DEFAULTS, **dict(fno or {})} if kind == "fno" else {}
        self.net = self._build()

    def _build(self) -> nn.Module:
        if self.kind == "unet":
            return UNetDenoiserNet(self.config)
        reject_unknown(self.fno_config, FNO_DEFAULTS, "FNO", noun="setting")
        fno_cls = require_neuralop()
        c = self.fno_config
        return fno_cls(n_modes=tuple(int(m) for m in c["n_modes"]),
                       in_channels=self.config.n_cond_channels, out_channels=1,
                       hidden_channels=int(c["hidden_channels"]), n_layers=int(c["n_layers"]),
                       domain_padding=c["domain_padding"] or None,
                       positional_embedding=None if self.config.coord_channels else "grid")

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """Predict ``phi / s`` of shape ``(B, 1, ny, nx)`` from ``cond`` ``(B, C, ny, nx)``."""
        if self.kind == "fno":  # its FFTs stay float32 under bf16 autocast
            with torch.autocast(cond.device.type, enabled=False):
                return self.net(cond.float())
        zeros = cond.new_zeros((cond.shape[0], 1) + tuple(cond.shape[-2:]))
        return self.net(torch.cat([zeros, cond], dim=1), cond.new_zeros(cond.shape[0]))

    def condition_batch(self, batch: Mapping[str, torch.Tensor]
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cond, scale)`` of a :class:`~physdiff.datasets.PoissonDataset` batch."""
        self.check_problem(batch["rho"].shape[-2:], ())
        return cond_from_batch(batch, self.config.coord_channels)

    def target_batch(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """What the network is trained to output for a batch: ``phi / s`` ``(B, 1, ny, nx)``."""
        return batch["phi"]

    def check_problem(self, grid: Any, kinds: Any) -> None:
        """Raise ValueError unless the baseline covers ``grid`` (any kinds its channels encode;
        see :meth:`physdiff.models.PoissonDiffusionModel.check_problem`)."""
        shape = tuple(getattr(grid, "shape", grid))
        if shape != tuple(self.config.grid_shape):
            raise ValueError(
                f"the {self.kind} baseline covers a {self.config.grid_shape[0]}x"
                f"{self.config.grid_shape[1]} grid but the data are {shape[0]}x{shape[1]}; "
                f"train a baseline on data of this grid")

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe description written to ``config.json``."""
        return {"kind": self.kind, "model": self.config.to_dict(), "fno": self.fno_config}


def save_baseline(model: RegressionBaseline, path: str | os.PathLike,
                  training: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write ``config.json`` + ``model.safetensors`` to the folder ``path`` atomically.

    Examples
    --------
    >>> import tempfile
    >>> cfg = ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
    ...                   attention_levels=[False, False])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_baseline(RegressionBaseline("unet", cfg), f"{d}/b")
    ...     load_baseline(f"{d}/b").kind
    'unet'
    """
    from .. import __version__

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    with atomic_dir(path) as tmp:  # permissions follow the umask
        meta = {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                "physdiff_version": __version__, **model.to_json(),
                "training": dict(training or {})}
        (tmp / "config.json").write_text(json.dumps(meta, indent=2, default=float) + "\n")
        # Tensors only: neuraloperator adds a ``_metadata`` dict (its constructor arguments) as
        # "extra state"; it is rebuilt from config.json on load instead of being pickled.
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                 if torch.is_tensor(v)}
        save_file(state, str(tmp / "model.safetensors"))
    return path


def read_baseline_config(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``config.json`` of a baseline folder (or of the run folder of
    ``physdiff train-baseline``, whose ``model/`` it is), with clear errors."""
    return read_folder_config(model_folder(path), format_name=_FORMAT,
                              format_version=_FORMAT_VERSION, what="baseline",
                              command="physdiff train-baseline")


def load_baseline(path: str | os.PathLike, device: str | torch.device = "cpu"
                  ) -> RegressionBaseline:
    """Load a folder written by :func:`save_baseline` (or a run folder holding it in
    ``model/``), in eval mode on ``device``."""
    meta = read_baseline_config(path)
    model = RegressionBaseline(meta["kind"], meta["model"], meta.get("fno") or None)
    load_weights(model, model_folder(path) / "model.safetensors")
    model.training_info = meta.get("training", {})
    return model.to(device).eval()
