"""physdiff.datasets."""
