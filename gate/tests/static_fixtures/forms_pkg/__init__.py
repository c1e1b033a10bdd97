"""Primitives called in forms that cannot wait, beside the same primitives in forms that can."""
