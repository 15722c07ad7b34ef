"""Policy files (YAML) and the code that loads, validates and decides on them."""

from policies.loader import Policies, PolicyError, load_policies

__all__ = ["PolicyError", "Policies", "load_policies"]
