"""Noise-level schedules: functions that return a descending tensor of sigmas.

A schedule of ``n`` steps is a tensor of ``n + 1`` sigmas: ``n`` positive levels in
descending order followed by a final ``0``, so that step ``i`` goes from ``sigmas[i]`` to
``sigmas[i + 1]`` and the last step lands on the clean sample. This is the convention of
k-diffusion (``get_sigmas_karras`` appends the zero) and of EDM's ``edm_sampler``.
"""

from __future__ import annotations

import torch

__all__ = ["karras_sigmas"]


def karras_sigmas(
    n: int,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The Karras et al. (2022, EDM eq. 5) schedule of ``n`` steps, with a final 0 appended.

    ``sigma_i = (sigma_max**(1/rho) + i/(n-1) * (sigma_min**(1/rho) - sigma_max**(1/rho)))**rho``
    for ``i = 0 .. n-1``, then ``sigma_n = 0``. With ``n == 1`` the single level is
    ``sigma_max`` (one step from pure noise straight to the denoised estimate).

    Parameters
    ----------
    n : int
        Number of steps (>= 1). The result has ``n + 1`` entries.
    sigma_min, sigma_max : float
        Smallest and largest positive noise level, ``0 < sigma_min <= sigma_max``.
    rho : float
        Warping exponent (> 0); 7 concentrates steps at small sigma as in EDM.
    device : torch.device or str, optional
        Device of the returned tensor (CPU by default).

    Returns
    -------
    torch.Tensor
        Float64 tensor of shape ``(n + 1,)``, strictly descending, ending in 0.

    Examples
    --------
    >>> s = karras_sigmas(4, sigma_min=0.002, sigma_max=80.0)
    >>> s.shape, round(float(s[0]), 9), round(float(s[-2]), 9), float(s[-1])
    (torch.Size([5]), 80.0, 0.002, 0.0)
    """
    if int(n) != n or n < 1:
        raise ValueError(f"the number of steps must be an integer >= 1, got {n!r}")
    if not (0.0 < sigma_min <= sigma_max) or not torch.isfinite(torch.tensor(sigma_max)):
        raise ValueError(
            f"need 0 < sigma_min <= sigma_max < inf, got sigma_min={sigma_min}, "
            f"sigma_max={sigma_max}"
        )
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho}")
    # EDM eq. 5; the same construction as k-diffusion's get_sigmas_karras.
    ramp = torch.linspace(0.0, 1.0, int(n), dtype=torch.float64)
    if n == 1:
        ramp = torch.zeros(1, dtype=torch.float64)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas.to(device) if device is not None else sigmas
