"""The static inventory never crashes on valid Python, whatever its shape (hypothesmith's generated
source), as flake8-async's checker is held to: a crash on odd code would hide every finding."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesmith
from hypothesis import HealthCheck, given, settings

from blockgate.static import primitive_table, scan

TABLE = primitive_table()


@settings(
    max_examples=20,
    deadline=None,  # astroid's first build of a module is slow; a slow example is not a failure
    suppress_health_check=[HealthCheck.too_slow],
)
@given(source=hypothesmith.from_grammar() | hypothesmith.from_node())
def test_generated_source_never_crashes_the_inventory(source):
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / "fuzz_pkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "generated.py").write_text(source, encoding="utf-8")
        result = scan(Path(folder), ["fuzz_pkg"], TABLE)
        assert result.file_count == 2
