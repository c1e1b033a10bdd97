"""The gate's own tests: pytester runs the installed plugin on throwaway projects."""

pytest_plugins = ["pytester"]
