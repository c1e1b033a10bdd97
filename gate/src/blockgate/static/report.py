"""The static inventory's Markdown (a CI job summary) and its terminal table."""

from __future__ import annotations

from typing import Any


def _cell(text: str) -> str:
    return text.replace("|", "/")


def render_markdown(payload: dict[str, Any], last_line: str) -> str:
    title = "## Static inventory: blocking calls reachable from the loop"
    if payload.get("changed_since"):
        title += f" (changed since {payload['changed_since']})"
    out = [title, "", f"**{last_line}**"]
    candidates = payload["candidates"]
    joined = bool(candidates) and "status" in candidates[0]
    if candidates:
        direct = sum(bool(c.get("direct")) for c in candidates)
        behind = sum(bool(c.get("behind")) for c in candidates)
        out += [
            "",
            f"{direct} of them made in an async def's own body, listed first; then the calls its sync callees make"
            + (
                f"; last, {behind} that each chain found reaches only through a branch it leaves untaken (why, in the chain)."
                if behind
                else "."
            ),
        ]
        header = "| call | function | primitive | rule | chain |"
        rule = "|---|---|---|---|---|"
        if joined:
            header += " under gate | tests |"
            rule += "---|---|"
        out += ["", header, rule]
        for c in candidates:
            row = (
                f"| `{c['path']}:{c['line']}` | `{c['function']}` | `{c['primitive']}` | `{c['rule']}` "
                f"| {_cell(' -> '.join(c['chain']))}{_cell(' (untaken: ' + c['behind'] + ')') if c.get('behind') else ''} |"
            )
            if joined:
                status = "yes" if c["status"] == "guarded" else "**NO**"
                if c.get("accepted"):
                    status += f" (accepted: {_cell(c['accepted'])})"
                tests = ", ".join(t.split("::", 1)[-1] for t in c["tests"][:2])
                more = f" (+{len(c['tests']) - 2} more)" if len(c["tests"]) > 2 else ""
                row += f" {status} | {_cell(tests + more) or '-'} |"
            out.append(row)
    removed = payload.get("removed_offloads")
    if removed is not None and not removed:
        out += ["", f"No offload site removed since the merge base ({payload['merge_base'][:12]})."]
    if removed:
        out += ["", f"### Offloads removed since the merge base ({payload['merge_base'][:12]})", ""]
        out += [
            f"- `{s['path']}:{s['line']}` `{s['function']}`: `{s['kind']}({s['target']})`" for s in removed
        ]
    loop = payload.get("loop_lines")
    if loop:
        out += [
            "",
            f"Loop-side coverage: {loop['ran']}/{loop['total']} lines that run on the loop ran under the gate.",
        ]
        if loop["never_ran"]:
            out += ["", "### Loop-side lines never run under the gate", ""]
            out += [f"- `{path}`: {', '.join(map(str, lines))}" for path, lines in loop["never_ran"].items()]
    if payload.get("skipped"):
        out += ["", "### Files skipped: the running Python could not read them", ""]
        out += [f"- `{s['path']}`: {_cell(s['reason'])}" for s in payload["skipped"]]
    if payload.get("errors"):
        out += ["", "### Errors", ""] + [f"- {e}" for e in payload["errors"]]
    return "\n".join(out) + "\n"


def render_table(candidates: list[dict[str, Any]]) -> str:
    from blockgate import text_table

    header = ["call", "function", "primitive", "entries"]
    joined = bool(candidates) and "status" in candidates[0]
    if joined:
        header.append("under gate")
    rows = [tuple(header)]
    for c in candidates:
        entries = c["entries"][0].rsplit(".", 1)[-1] + (
            f" (+{len(c['entries']) - 1})" if len(c["entries"]) > 1 else ""
        )
        row = [f"{c['path']}:{c['line']}", c["function"], c["primitive"], entries]
        if joined:
            row.append(
                ("yes" if c["status"] == "guarded" else "NO") + (" (accepted)" if c.get("accepted") else "")
            )
        rows.append(tuple(row))
    return text_table.render(rows, 60)
