"""EDM preconditioning: the one place where the noise-level scalings live.

Karras et al. (2022), "Elucidating the Design Space of Diffusion-Based Generative Models",
Table 1 and NVlabs/edm ``training/networks.py: EDMPrecond``. With ``sigma_d`` the data
standard deviation, the denoiser is

    D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)

with ``c_skip = sigma_d^2 / (sigma^2 + sigma_d^2)``, ``c_out = sigma sigma_d /
sqrt(sigma^2 + sigma_d^2)``, ``c_in = 1 / sqrt(sigma^2 + sigma_d^2)`` and
``c_noise = ln(sigma) / 4``. Conditioning channels are concatenated after ``c_in x``.

Two options serve the regression-first recipe (see ``docs/training.md``):

* ``lift=True`` works in *lifted* units: the explicit Dirichlet lift ``P(cond)`` of
  :func:`physdiff.models.lifting.coons_lift` is subtracted from ``x`` before the network and
  added back after, so ``D(x) = P + c_skip (x - P) + c_out F(c_in (x - P), ...)`` and the
  network only learns what the source drives (``sigma_data`` is then the spread of
  ``phi / s - P``);
* ``regression_sigma``: at ``sigma >= regression_sigma`` the noisy input is ignored (set
  to 0 after lifting), so ``D(., regression_sigma, cond)`` is a pure regression of phi on
  the problem -- the first step of PDE-Refiner (Lippe et al. 2023, pdearena
  ``pdearena/models/pderefiner.py``), with the later steps denoising at small sigma.
"""

from __future__ import annotations

import torch
from torch import nn

from .lifting import coons_lift

__all__ = ["EDMPrecond", "edm_coefficients"]


def edm_coefficients(sigma: torch.Tensor, sigma_data: float) -> tuple[torch.Tensor, ...]:
    """``(c_skip, c_out, c_in, c_noise)`` of EDM at noise levels ``sigma``.

    Examples
    --------
    >>> import torch
    >>> [round(float(c), 4) for c in edm_coefficients(torch.tensor(1.0), 1.0)]
    [0.5, 0.7071, 0.7071, 0.0]
    """
    sd2 = sigma_data**2
    c_skip = sd2 / (sigma**2 + sd2)
    c_out = sigma * sigma_data / (sigma**2 + sd2).sqrt()
    c_in = 1 / (sigma**2 + sd2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class EDMPrecond(nn.Module):
    """Wrap a raw network ``F(x_in, noise_label)`` into the denoiser ``D(x, sigma, cond)``.

    Parameters
    ----------
    net : nn.Module
        Takes ``(B, 1 + C, ny, nx)`` and labels ``(B,)``, returns ``(B, 1, ny, nx)``.
    sigma_data : float
        Standard deviation of the clean (normalised, lifted when ``lift``) data.
    lift : {"none", "coons", "harmonic", "gaussian"} or bool
        Subtract a known part of the target before the network and add it after: the Coons
        lift of the Dirichlet data (``"coons"`` or True) or the first conditioning channel,
        the Gaussian posterior mean of a ``rho_posterior`` model (``"gaussian"``).
        ``"harmonic"`` changes nothing here: such a model is only ever given homogeneous
        problems (zero boundary data), the lift is added by the caller
        (:func:`physdiff.solvers.lift.split_problem`).
    regression_sigma : float, optional
        Noise level at and above which the input is ignored (pure regression).

    Examples
    --------
    >>> import torch
    >>> zero_net = lambda x, t: torch.zeros_like(x[:, :1])
    >>> d = EDMPrecond(zero_net, sigma_data=0.5)
    >>> x = torch.ones(1, 1, 2, 2)
    >>> float(d(x, torch.tensor([0.5]), torch.zeros(1, 3, 2, 2))[0, 0, 0, 0])  # c_skip = 1/2
    0.5
    """

    def __init__(self, net: nn.Module, sigma_data: float, *, lift: str | bool = "none",
                 regression_sigma: float | None = None) -> None:
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)
        self.lift = {True: "coons", False: "none"}.get(lift, lift) if isinstance(lift, bool) \
            else str(lift)
        if self.lift not in ("none", "coons", "harmonic", "gaussian"):
            raise ValueError(f"lift must be 'none', 'coons', 'harmonic' or 'gaussian', got "
                             f"{lift!r}")
        self.regression_sigma = None if regression_sigma is None else float(regression_sigma)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float,
                cond: torch.Tensor) -> torch.Tensor:
        """Denoised estimate of ``x`` (``(B, 1, ny, nx)``) at noise level ``sigma``."""
        x = x.to(torch.float32)
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
        sigma = sigma.reshape(-1).expand(x.shape[0])
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, self.sigma_data)
        view = (-1, 1, 1, 1)
        base = None
        if self.lift == "coons":
            base = coons_lift(cond.to(x.dtype))
        elif self.lift == "gaussian":
            base = cond[:, :1].to(x.dtype)
        if base is not None:
            x = x - base
        if self.regression_sigma is not None:
            keep = (sigma < self.regression_sigma * (1 - 1e-6)).to(x.dtype).view(view)
            x = x * keep
        x_in = torch.cat([c_in.view(view) * x, cond.to(x.dtype)], dim=1)
        f = self.net(x_in, c_noise).to(torch.float32)
        out = c_skip.view(view) * x + c_out.view(view) * f
        return out if base is None else out + base
