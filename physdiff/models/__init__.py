"""physdiff.models."""
