"""A SKILL.md's front matter: YAML, bounded, and only what JSON can return.

A skill file is data the service serves, so what one small file can make the
service do is bounded here, before and while the YAML is read:

* Expansion. An alias (``*a``) names a node the file already holds, so a file
  of a few hundred bytes can stand for millions of values (the "billion
  laughs"); merge keys (``<<: *a``) multiply the same way. PyYAML's composer
  shares the aliased node rather than copying it, so reading stays cheap and
  the cost lands on whatever walks the result: the JSON response. The loader
  below sums, as each node is composed, the size the front matter has once
  every alias is counted in full (a scalar its length plus one, a list or
  mapping one), and stops at the limit.
* Recursion. An alias used inside the node it names makes a structure that
  contains itself; no JSON can hold it. The loader refuses it.
* Depth. Nesting, written or built from aliases, is bounded at ``MAX_DEPTH``:
  far below the response serializer's own limit (about 255 levels), and the
  bound also keeps PyYAML's recursive composer clear of Python's recursion limit.
* Integers. Python refuses to convert decimal text of more than 4,300 digits
  to an int (``sys.int_max_str_digits`` on 3.11+ and 3.10.7+), and a Python
  client's JSON parser refuses the same numbers; base-60 integers
  (``1:2:3``) cost quadratic time to build. ``MAX_INT_DIGITS`` bounds both
  the text of an integer scalar, before it is converted, and its value.
* Shape. What the response cannot carry is refused rather than left to fail
  every listing: bytes (``!!binary``), sets, ordered maps, non-string
  mapping keys (YAML 1.1 reads ``on:`` as the key ``True``), NaN and
  infinities. Dates and timestamps stay: the response gives them as ISO text.

Every refusal is a ``SkillFormatError`` saying what is wrong; the storage
skips that file and reports it.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# A front matter's size with every alias expanded: a scalar counts its length plus one, a list or
# mapping one. About the characters the front matter would take with no alias in it.
DEFAULT_MAX_EXPANDED_SIZE = 1024 * 1024
# Lists and mappings nested in one another, the front matter's own mapping being level 1.
MAX_DEPTH = 64
# Digits of an integer, and characters of an integer scalar (sign and underscores aside).
MAX_INT_DIGITS = 4300
_INT_BOUND = 10**MAX_INT_DIGITS

_INT_TAG = "tag:yaml.org,2002:int"


class SkillFormatError(ValueError):
    """A SKILL.md whose front matter is missing or invalid."""


def split_front_matter(text: str) -> tuple[str, str]:
    """The front matter's YAML and the body after it; line numbers in the YAML are the file's."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SkillFormatError("no front matter: the file must start with a '---' line")
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        raise SkillFormatError("front matter is not closed by a '---' line")
    # A blank first line stands for the opening '---', so that YAML's error marks count lines as
    # the file does.
    return "\n" + "".join(lines[1:end]), "".join(lines[end + 1 :])


def load_front_matter(yaml_text: str, max_expanded_size: int = DEFAULT_MAX_EXPANDED_SIZE) -> Any:
    """The YAML's value, within the bounds above; raise SkillFormatError saying what is wrong."""
    loader = _BoundedLoader(yaml_text, max_expanded_size)
    try:
        data = loader.get_single_data()
    except _Refused as exc:
        raise SkillFormatError(f"front matter {exc.problem} (line {exc.line})") from None
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        # ValueError and OverflowError: values the constructors cannot build (a 13th month, a
        # time zone offset of 99 hours), which PyYAML does not turn into a YAMLError.
        raise SkillFormatError(f"front matter is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    _check_json_shape(data)
    return data


class _Refused(Exception):
    """The front matter passed a limit: what, and the line (of the file) where."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = mark.line + 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops at the expansion, depth and integer limits.

    Composer.compose_node is called once per node of the text and once per
    alias (for which it returns the node the alias names): sizes and heights
    are kept per composed node, so an alias adds what it names without
    walking it again.
    """

    def __init__(self, stream: str, max_expanded_size: int) -> None:
        super().__init__(stream)
        self.name = "SKILL.md"  # YAML's own error marks: in "SKILL.md", line 3, column 5
        self.max_expanded_size = max_expanded_size
        self.depth = 0  # lists and mappings open around the node being composed
        self.composed: dict[Node, tuple[int, int]] = {}  # node -> (expanded size, height)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self._next_event()
            named = self.anchors.get(event.anchor)
            if named is not None and named not in self.composed:
                problem = f"uses alias *{event.anchor} inside the node it names (a recursive structure)"
                raise _Refused(problem, event.start_mark)
            return super().compose_node(parent, index)  # the named node, already counted
        opens = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
        if opens:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Refused(f"is nested deeper than {MAX_DEPTH} levels", self._next_event().start_mark)
        node = super().compose_node(parent, index)
        if opens:
            self.depth -= 1
        assert node is not None  # compose_node returns None only past the end of the stream
        size, height = self._measure(node)
        self.composed[node] = (size, height)
        if size > self.max_expanded_size:
            problem = f"expands to more than {self.max_expanded_size}, each alias counted in full"
            raise _Refused(problem, node.start_mark)
        if height > MAX_DEPTH:
            raise _Refused(f"is nested deeper than {MAX_DEPTH} levels through aliases", node.start_mark)
        return node

    def _measure(self, node: Node) -> tuple[int, int]:
        if isinstance(node, ScalarNode):
            if node.tag == _INT_TAG and len(node.value.replace("_", "").lstrip("+-")) > MAX_INT_DIGITS:
                raise _Refused(f"holds an integer of more than {MAX_INT_DIGITS} digits", node.start_mark)
            return 1 + len(node.value), 0
        if isinstance(node, SequenceNode):
            children = [self.composed[child] for child in node.value]
        else:
            assert isinstance(node, MappingNode)
            children = [self.composed[part] for pair in node.value for part in pair]
        return 1 + sum(size for size, _ in children), 1 + max((h for _, h in children), default=0)

    def _next_event(self) -> Any:
        return self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML


_YAML_TAGS: dict[type, str] = {bytes: "!!binary", set: "!!set", tuple: "!!omap or !!pairs"}


def _check_json_shape(data: Any) -> None:
    found = _shape_problem(data)
    if found is not None:
        steps, problem = found
        where = "".join(reversed(steps)).lstrip(".")
        raise SkillFormatError(f"front matter at {where}: {problem}" if where else f"front matter: {problem}")


def _shape_problem(value: Any) -> tuple[list[str], str] | None:
    """What the JSON response could not carry as it is, and where (innermost step first)."""
    found: tuple[list[str], str] | None = None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return [], f"key {key!r} is not a string (quote it)"
            found = _shape_problem(item)
            if found is not None:
                found[0].append(f".{key}")
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _shape_problem(item)
            if found is not None:
                found[0].append(f"[{index}]")
                return found
    elif isinstance(value, bool) or value is None or isinstance(value, (str, datetime.date)):
        pass
    elif isinstance(value, int):
        if abs(value) >= _INT_BOUND:
            return [], f"an integer of more than {MAX_INT_DIGITS} digits"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return [], f"{value!r} is not a finite number; JSON cannot hold it"
    else:
        return [], f"a {_YAML_TAGS.get(type(value), type(value).__name__)} value cannot be returned as JSON"
    return None
