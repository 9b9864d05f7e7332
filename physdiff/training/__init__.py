"""physdiff.training."""
