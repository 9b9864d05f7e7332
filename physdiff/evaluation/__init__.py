"""physdiff.evaluation."""
