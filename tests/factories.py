"""Builders for test events."""

from __future__ import annotations


def event(thread_id="t1", run_id="r1", event_type="user", category="message", **extra):
    return dict(thread_id=thread_id, run_id=run_id, event_type=event_type, category=category, **extra)
