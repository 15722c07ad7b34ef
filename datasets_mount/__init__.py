"""Dataset catalog, storage, synthetic data and read-only mounts into workspaces."""
