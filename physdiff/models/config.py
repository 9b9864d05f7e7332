"""The JSON-safe description of a model: what it covers (grid, boundary kinds) and its shape.

A :class:`ModelConfig` is everything needed to rebuild a model before its weights are
loaded. It is written to ``config.json`` by :func:`physdiff.models.save_model`, so every
field is a plain number, string, bool or list of them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..config_files import reject_unknown
from ..solvers.boundary import FIELD_KINDS as MODEL_KINDS

__all__ = ["ModelConfig"]

_PAIR_FIELDS = ("grid_shape", "extent")


@dataclass
class ModelConfig:
    """Configuration of a :class:`~physdiff.models.PoissonDiffusionModel`.

    Parameters
    ----------
    grid_shape : list of int
        ``[ny, nx]`` of the grid the model was trained on.
    extent : list of float
        ``[Lx, Ly]`` of that grid.
    bc_kinds : list of list of str
        The boundary-kind signatures ``[left, right, bottom, top]`` the model was trained on.
    sigma_data : float
        Standard deviation of the normalised solutions ``phi / s`` (EDM's sigma_data).
    sigma_min, sigma_max : float
        Noise range for sampling.
    p_mean, p_std : float
        Training noise distribution: ``ln(sigma) ~ N(p_mean, p_std**2)``.
    block_out_channels : list of int
        U-Net widths per resolution level (the grid is halved between levels).
    layers_per_block : int
        Residual blocks per level.
    attention_levels : list of bool, optional
        Whether each level (same length as ``block_out_channels``) has self-attention;
        by default only the coarsest level of a U-Net with 3 or more levels.
    attention_head_dim : int
        Channels per attention head.
    norm_num_groups : int
        Groups of the group norms; must divide every width.
    dropout : float
        Dropout inside the residual blocks.
    coord_channels : bool
        Whether ``x / Lx`` and ``y / Ly`` are given to the network as two extra channels.
    formulation : {"edm", "refiner"}
        ``"edm"``: sample from noise at ``sigma_max`` (Karras et al. 2022). ``"refiner"``:
        regression first -- the denoiser at ``sigma_max`` ignores its input and predicts phi
        from the problem alone -- then a few denoising refinements at noise levels in
        ``[refine_sigma_min, refine_sigma_max]`` (PDE-Refiner, Lippe et al. 2023).
    lift : {"none", "coons", "harmonic", "gaussian"}
        Work relative to a known part of the target: the Coons lift of the Dirichlet data
        (``"coons"``, :mod:`physdiff.models.lifting`; ``task: solve``), the exact harmonic
        lift (``"harmonic"``, ``task: solve``: the network sees only the homogeneous problem
        ``(rho, zero boundary data of the same kinds)`` and predicts the rho-driven part
        ``phi - phi_h``; ``phi_h`` comes from the FD solver,
        :func:`physdiff.solvers.lift.split_problem`), or the Gaussian
        posterior mean of rho (``"gaussian"``, the first conditioning channel; ``task:
        rho_posterior``): the network learns only the correction, and an untrained one
        answers the Gaussian posterior.
    p_regression : float
        ``"refiner"`` training: fraction of samples trained as the regression step.
    refine_sigma_min, refine_sigma_max : float
        ``"refiner"``: range of the refinement noise levels (normalised units), log-uniform
        in training, geometric in sampling.
    backbone : {"unet", "spectral"}
        The raw network: the diffusers U-Net (:class:`~physdiff.models.UNetDenoiserNet`,
        shaped by ``block_out_channels`` ...) or the FNO-style spectral network
        (:class:`~physdiff.models.spectral.SpectralDenoiserNet`).
    spectral_width, spectral_modes, spectral_layers : int
        ``"spectral"``: channels, Fourier modes kept per axis, and blocks.
    spectral_padding : float
        ``"spectral"``: zero padding before the FFT, as a fraction of each side.
    spectral_extension : {"pad", "reflect"}
        ``"spectral"``: how the field is made periodic for the FFT: zero padding by
        ``spectral_padding`` (``"pad"``), or the boundary kinds' own extension to twice the
        grid (``"reflect"``: odd reflection across an axis with Dirichlet ends, even across
        Neumann or mixed ends, tiling of a periodic axis), so the FFT acts as the sine,
        cosine or Fourier transform the kinds call for (:func:`~physdiff.models.spectral.
        kind_extension`). A ``rho_posterior`` model (rho itself has no boundary condition)
        extends evenly across non-periodic axes (the cosine transform: a field with free
        ends extends without a jump) and tiles periodic ones.
    task : {"solve", "rho_posterior"}
        ``"solve"``: denoise phi given rho and the boundary data (the solver).
        ``"rho_posterior"``: denoise ``rho / s`` given the Gaussian posterior mean of rho from
        sparse observations and the observation masks (the learned prior of
        :func:`physdiff.reconstruct`; channels in :mod:`physdiff.models.conditioning`).
    posterior_prior : {"default", "empirical-bayes"}
        ``task: rho_posterior``: the Gaussian posterior the model is conditioned on (its
        training set's ``posterior_prior``; :func:`physdiff.reconstruct` conditions on the
        same one): the shipped default prior with its amplitude fitted, or the per-problem
        empirical-Bayes prior of ``method="gaussian"``.
    unconditional : bool
        ``task: rho_posterior`` only: the network sees no observation -- its Gaussian-mean
        and mask channels are zero in training and in use -- so it is a prior on ``rho / s``
        alone (with the periodic flags and coordinates), used by the PnP / RED / DPS chains
        of :func:`physdiff.reconstruct` with the exact Gaussian data step: any observation
        pattern and noise, without retraining. Needs ``lift: none`` and, with the
        ``refiner`` formulation, ``p_regression: 0`` (an unconditional regression would
        only learn the prior mean).

    Examples
    --------
    >>> cfg = ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16])
    >>> cfg.n_cond_channels
    11
    >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    grid_shape: list[int] = field(default_factory=lambda: [64, 64])
    extent: list[float] = field(default_factory=lambda: [1.0, 1.0])
    bc_kinds: list[list[str]] = field(default_factory=lambda: [["dirichlet"] * 4])
    sigma_data: float = 0.5
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    p_mean: float = -1.2
    p_std: float = 1.2
    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    layers_per_block: int = 1
    attention_levels: list[bool] | None = None
    attention_head_dim: int = 8
    norm_num_groups: int = 8
    dropout: float = 0.0
    coord_channels: bool = True
    formulation: str = "edm"
    lift: str = "none"
    p_regression: float = 0.5
    refine_sigma_min: float = 1e-3
    refine_sigma_max: float = 0.1
    backbone: str = "unet"
    spectral_width: int = 32
    spectral_modes: int = 16
    spectral_layers: int = 4
    spectral_padding: float = 0.125
    spectral_extension: str = "pad"
    task: str = "solve"
    posterior_prior: str = "default"
    unconditional: bool = False

    def __post_init__(self) -> None:
        for name in _PAIR_FIELDS:
            value = getattr(self, name)
            if len(value) != 2:
                raise ValueError(f"model config: {name} must be a pair, got {value!r}")
        self.grid_shape = [int(n) for n in self.grid_shape]
        self.extent = [float(v) for v in self.extent]
        self.bc_kinds = [[str(k).lower() for k in sig] for sig in self.bc_kinds]
        self.block_out_channels = [int(c) for c in self.block_out_channels]
        if self.attention_levels is None:
            n = len(self.block_out_channels)
            self.attention_levels = [False] * (n - 1) + [n >= 3]
        self.attention_levels = [bool(a) for a in self.attention_levels]
        self._check()

    def _check(self) -> None:
        if min(self.grid_shape) < 3:
            raise ValueError(
                f"model config: grid_shape {self.grid_shape} needs >= 3 nodes per axis"
            )
        for sig in self.bc_kinds:
            if len(sig) != 4 or any(k not in MODEL_KINDS for k in sig):
                raise ValueError(
                    f"model config: each bc_kinds entry is [left, right, bottom, top] with kinds "
                    f"from {MODEL_KINDS}; got {sig!r}"
                )
        if not (self.sigma_data > 0 and math.isfinite(self.sigma_data)):
            raise ValueError(f"model config: sigma_data must be positive, got {self.sigma_data}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError("model config: need 0 < sigma_min < sigma_max")
        if len(self.attention_levels) != len(self.block_out_channels):
            raise ValueError(
                f"model config: attention_levels has {len(self.attention_levels)} entries but "
                f"block_out_channels has {len(self.block_out_channels)}; give one per level"
            )
        if self.formulation not in ("edm", "refiner"):
            raise ValueError(f"model config: formulation must be 'edm' or 'refiner', got "
                             f"{self.formulation!r}")
        from .conditioning import TASKS

        if self.task not in TASKS:
            raise ValueError(f"model config: task must be one of {TASKS}, got {self.task!r}")
        if self.backbone not in ("unet", "spectral"):
            raise ValueError(f"model config: backbone must be 'unet' or 'spectral', got "
                             f"{self.backbone!r}")
        if min(self.spectral_width, self.spectral_modes, self.spectral_layers) < 1 or \
                not 0 <= self.spectral_padding <= 1:
            raise ValueError("model config: spectral_width, spectral_modes and "
                             "spectral_layers must be >= 1 and spectral_padding in [0, 1]")
        if self.spectral_extension not in ("pad", "reflect"):
            raise ValueError(f"model config: spectral_extension must be 'pad' or 'reflect', "
                             f"got {self.spectral_extension!r}")
        from .conditioning import POSTERIOR_PRIORS

        if self.posterior_prior not in POSTERIOR_PRIORS:
            raise ValueError(f"model config: posterior_prior must be one of "
                             f"{POSTERIOR_PRIORS}, got {self.posterior_prior!r}")
        if self.unconditional and (self.task != "rho_posterior" or self.lift != "none" or (
                self.formulation == "refiner" and self.p_regression != 0)):
            raise ValueError("model config: unconditional needs task 'rho_posterior', lift "
                             "'none' and (refiner formulation) p_regression 0")
        lifts = {"none": TASKS, "coons": ("solve",), "harmonic": ("solve",),
                 "gaussian": ("rho_posterior",)}
        if self.lift not in lifts:
            raise ValueError(f"model config: lift must be one of {sorted(lifts)}, got "
                             f"{self.lift!r}")
        if self.task not in lifts[self.lift]:
            raise ValueError(f"model config: lift {self.lift!r} needs task "
                             f"{lifts[self.lift][0]!r}, not {self.task!r}")
        if not 0 <= self.p_regression <= 1:
            raise ValueError(f"model config: p_regression must be in [0, 1], got "
                             f"{self.p_regression}")
        if not 0 < self.refine_sigma_min <= self.refine_sigma_max < self.sigma_max:
            raise ValueError("model config: need 0 < refine_sigma_min <= refine_sigma_max "
                             "< sigma_max")
        bad = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad:
            raise ValueError(
                f"model config: norm_num_groups={self.norm_num_groups} does not divide the "
                f"widths {bad}; choose widths that are multiples of it"
            )

    # ----- derived values -----------------------------------------------------------------
    @property
    def n_cond_channels(self) -> int:
        """Number of conditioning channels (see :mod:`physdiff.models.conditioning`)."""
        from .conditioning import n_cond_channels

        return n_cond_channels(self.coord_channels, self.task)

    @property
    def unused_keys(self) -> set[str]:
        """Fields that do not shape this model (the other backbone's settings)."""
        unet = {"block_out_channels", "layers_per_block", "attention_levels",
                "attention_head_dim", "norm_num_groups", "dropout"}
        spectral = {"spectral_width", "spectral_modes", "spectral_layers", "spectral_padding",
                    "spectral_extension"}
        return unet if self.backbone == "spectral" else spectral

    @property
    def kind_signatures(self) -> set[tuple[str, ...]]:
        """The covered boundary-kind signatures as a set of tuples."""
        return {tuple(sig) for sig in self.bc_kinds}

    # ----- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` reads back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dict, rejecting unknown keys with a message naming them
        (:func:`physdiff.config_files.reject_unknown`)."""
        if not isinstance(data, dict):
            raise ValueError(f"model config must be a mapping, got {type(data).__name__}")
        reject_unknown(data, [f.name for f in fields(cls)], "model config")
        return cls(**data)
