"""Branches a call leaves untaken: lines whose comment says untaken are reported with why (each
chain found reaches them only through such a branch); every other ``# blocking:`` line without."""
