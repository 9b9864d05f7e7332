"""physdiff.sampling."""
