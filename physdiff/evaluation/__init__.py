"""physdiff.evaluation: per-sample metrics, the comparison harness, baselines, report, figures.

``evaluate`` runs the exact FD solver, the diffusion model (unguided/guided, several NFE,
ensembles) and the regression baselines (U-Net, FNO) on the same test sets and writes
per-sample metrics (netCDF), ``summary.json``, ``report.md`` and PNG figures. See
``docs/evaluation.md``. Names are imported lazily so that ``physdiff --help`` stays fast.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "evaluate": "harness", "rebuild": "harness", "EvalSettings": "harness", "METHODS": "harness",
    "relative_l2": "metrics", "relative_l2_driven": "metrics", "boundary_share": "metrics",
    "problem_metrics": "metrics", "summarize": "metrics",
    "RegressionBaseline": "baselines", "load_baseline": "baselines",
    "save_baseline": "baselines", "train_baseline": "baseline_training",
    "baseline_settings": "baseline_training", "RegressionTrainable": "baseline_training",
    "load_test_set": "testset",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
