"""Receivers whose type astroid cannot infer but the code declares: annotations followed further.

Each case has a trap twin of the same shape whose declared type does no IO.
"""
