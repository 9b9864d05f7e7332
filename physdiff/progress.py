"""One switch for progress bars across every command: ``--quiet`` or ``PHYSDIFF_NO_PROGRESS``.

Every command that shows a tqdm bar asks :func:`progress_enabled`; setting the environment
variable ``PHYSDIFF_NO_PROGRESS=1`` (any value but ``""`` and ``"0"``) hides them all, e.g. in
CI logs, and each command's ``--quiet`` flag hides its own.
"""

from __future__ import annotations

import os

__all__ = ["ENV_VAR", "progress_enabled"]

ENV_VAR = "PHYSDIFF_NO_PROGRESS"


def progress_enabled(quiet: bool = False) -> bool:
    """False when ``quiet`` or when ``PHYSDIFF_NO_PROGRESS`` is set to a true value.

    Examples
    --------
    >>> progress_enabled(quiet=True)
    False
    """
    return not quiet and os.environ.get(ENV_VAR, "").strip().lower() in ("", "0", "false", "no")
