"""One file newer than the running Python: skipped and reported, the others scanned all the same."""
