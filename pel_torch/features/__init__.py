"""Input builders shared by tasks: causal per-entity history, list columns, target scales."""
