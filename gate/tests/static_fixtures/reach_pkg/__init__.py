"""Blocking calls the loop reaches, one shape each."""
