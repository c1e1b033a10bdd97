"""The primitives: every callable the gate's rules catch, by any name its definition goes by.

The static half reads the same table as the runtime half (``blockgate.rules``
plus blockbuster's defaults): one list of primitives for both.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from blockgate.static.clients import CLIENT_RULES, ClientRule


def rule_names(rule: Any) -> tuple[str, ...]:
    """The dotted callables a rule catches: a Patch's target, an Audit's raisers."""
    raised_by = getattr(rule, "raised_by", None)
    if raised_by is not None:
        return tuple(raised_by)
    return (rule.target,)


def blockbuster_names() -> tuple[str, ...]:
    from blockgate.arming import _blockbuster_default_rules

    return tuple(name for name, _ in _blockbuster_default_rules())


# Defining modules that are not the public one a rule names.
PRIVATE_MODULES = {"posix": "os", "nt": "os", "genericpath": "os.path", "posixpath": "os.path"}


def public_name(qualified: str) -> str:
    """``pathlib._local.Path.stat`` -> ``pathlib.Path.stat``, ``_io.open`` -> ``io.open``,
    ``posix.stat`` -> ``os.stat``: the spelling a rule uses for a defining module."""
    head, _, rest = qualified.partition(".")
    if head in PRIVATE_MODULES:
        return f"{PRIVATE_MODULES[head]}.{rest}" if rest else PRIVATE_MODULES[head]
    parts = qualified.split(".")
    kept = [parts[0].lstrip("_") or parts[0]]
    kept += [p for p in parts[1:-1] if not (p.startswith("_") and not p.startswith("__"))]
    return ".".join([*kept, parts[-1]]) if len(parts) > 1 else kept[0]


def defining_names(dotted: str) -> list[str]:
    """Where the stdlib object ``dotted`` is really defined (``module.qualname``), found by
    importing the stdlib module that holds it. Never imports scanned code: rules name the stdlib."""
    parts = dotted.split(".")
    obj: Any = None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return []
        break
    else:
        return []
    owner = getattr(obj, "__objclass__", None)
    module = getattr(owner, "__module__", None) or getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    return [f"{module}.{qualname}"] if isinstance(module, str) and isinstance(qualname, str) else []


def _own_identities(name: str, identities: list[str]) -> list[str]:
    """The definitions of a classified name that stand for it alone: not one inherited from a
    private base of another module (``bz2.BZ2File.flush`` is ``_io._IOBase.flush``, which every
    stream, ``io.BytesIO`` too, inherits), whose every other spelling would become a finding."""
    top = name.partition(".")[0]
    return [
        identity
        for identity in identities
        if public_name(identity).partition(".")[0] == top
        and not any(part.startswith("_") and part[1:2].isupper() for part in identity.split(".")[1:-1])
    ]


@dataclass(frozen=True)
class Primitive:
    name: str  # the rule table's spelling, e.g. builtins.open, pathlib.Path.stat
    rules: tuple[str, ...]  # the rules that catch it: project rule names, then blockbuster:<key>


class PrimitiveTable:
    """Every callable the gate's rules catch, findable by any name its definition goes by."""

    def __init__(
        self,
        rules: Iterable[Any],
        blockbuster: Iterable[str],
        clients: Iterable[ClientRule] = (),
        classified: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._by_key: dict[str, str] = {}
        self._rules: dict[str, list[str]] = {}
        self._identity: dict[str, str] = {}
        self._library: dict[str, str] = {}  # a client rule's key -> the library it needs imported
        self._needs: dict[str, str] = {}  # a classified callable's key -> the module it needs imported
        self.receivers: set[str] = set()  # classes whose listed methods block, whatever defines them
        for rule in rules:
            for name in rule_names(rule):
                self._add(name, rule.name)
        for name in blockbuster:
            self._add(name, f"blockbuster:{name}")
        for name, rule in classified:
            # A name a rule already catches keeps its rules; a new one gets the rule that sees it.
            if self.lookup(name) is None:
                identities = defining_names(name)
                own = _own_identities(name, identities)
                known = set(self._by_key)
                self._add(name, rule, own)
                # Its method name costs inference only in a package that imports its module.
                for key in set(self._by_key) - known:
                    self._needs[key] = name.partition(".")[0]
                if len(own) < len(identities):
                    # Inherited from a shared base: found by the receiver's class instead.
                    receiver = name.rsplit(".", 1)[0]
                    self.receivers.add(receiver)
                    self._library.setdefault(receiver, receiver.partition(".")[0])
        for client in clients:
            # Spelled as the library's source defines them: nothing is imported to find them.
            for shown, spellings in client.callables.items():
                self._rules.setdefault(shown, []).append(f"client:{client.name}")
                for key in (shown, *spellings):
                    self._by_key.setdefault(key, shown)
                    self._library.setdefault(key, client.name)
            self.receivers.update(client.receivers)
            for receiver in client.receivers:
                self._library.setdefault(receiver, client.name)

    def _add(self, name: str, rule: str, identities: list[str] | None = None) -> None:
        identities = defining_names(name) if identities is None else identities
        # Two spellings of one object (io.open, builtins.open) are one primitive: the first named.
        canonical = next((self._identity[i] for i in identities if i in self._identity), None)
        # A rule may name a callable by its defining module (posix.stat, the
        # twin of os.stat): the primitive keeps the public spelling.
        shown = public_name(name) if name.partition(".")[0] in PRIVATE_MODULES else name
        canonical = canonical or self._by_key.get(name) or self._by_key.get(shown) or shown
        for identity in identities:
            self._identity.setdefault(identity, canonical)
        for key in {name, public_name(name), *identities, *map(public_name, identities)}:
            self._by_key.setdefault(key, canonical)
        rules = self._rules.setdefault(canonical, [])
        if rule not in rules:
            rules.append(rule)

    def lookup(self, qualified: str) -> Primitive | None:
        for key in (qualified, public_name(qualified)):
            name = self._by_key.get(key)
            if name is not None:
                return Primitive(name, tuple(self._rules[name]))
        return None

    def client_spelling(self, dotted: str) -> Primitive | None:
        """A client rule's primitive spelled ``dotted`` in the source (imports resolved), for a
        call astroid resolved to nothing: the library need not be installed where the static
        half runs."""
        return self.lookup(dotted) if dotted in self._library else None

    def names(self) -> list[str]:
        return sorted(self._rules)

    def receiver_methods(self, imported: Iterable[str]) -> set[str]:
        """The method names listed for receiver classes of the libraries in ``imported``."""
        wanted = set(imported)
        return {
            key.rsplit(".", 1)[-1]
            for receiver in self.receivers
            if self._library[receiver] in wanted
            for key in self._by_key
            if key.rsplit(".", 1)[0] == receiver
        }

    def last_parts(self, imported: Iterable[str] | None = None) -> set[str]:
        """The final names (``stat``, ``open``, ``Popen``) any spelling of a primitive ends with;
        a client library's or a classified callable's only when ``imported`` (top-level modules)
        holds its module (None: all)."""
        wanted = None if imported is None else set(imported)
        found = set()
        for key in self._by_key:
            needed = self._library.get(key) or self._needs.get(key)
            if wanted is None or needed is None or needed in wanted:
                found.add(key.rsplit(".", 1)[-1])
        return found


def classified_names() -> list[tuple[str, str]]:
    """(name, rule) of every public stdlib callable that the classification says a rule catches
    through what it calls (``os.path.getsize`` by ``os.stat``, ``zipfile.ZipFile.read`` by
    ``open`` and reads): the runtime half sees these at the primitive inside; the static half,
    which does not walk into the standard library, must know them by their own names. The rule is
    the first one the classification names (``a + b``: the call waits in either)."""
    from blockgate.classification import CLASSIFICATION, RULE, all_public_callables

    found = []
    for names in all_public_callables().values():
        for name in names:
            entries = CLASSIFICATION.classify(name)
            if entries and entries[0].verdict == RULE:
                found.append((name, entries[0].why.split(" + ")[0]))
    return found


def primitive_table() -> PrimitiveTable:
    """The gate's rule table (``blockgate.rules``) and blockbuster's defaults: one list for both
    halves; every stdlib callable the classification says they catch, by its own name; and the
    static half's rules for third-party sync clients (``clients``)."""
    from blockgate.rules import RULES

    return PrimitiveTable(RULES, blockbuster_names(), CLIENT_RULES, classified_names())
