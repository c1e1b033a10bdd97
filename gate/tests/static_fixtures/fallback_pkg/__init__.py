"""Names bound in an ``except ImportError``: a fallback runs only when its ``try`` import fails here."""
