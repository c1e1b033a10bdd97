"""runlog: an async store for the event streams of agent runs.

Entry points:

* ``runlog.events``: ``JsonlRunEventStore``, ``MemoryRunEventStore``, ``RunEventStore``
* ``runlog.skills``: ``LocalSkillStorage`` (``load_skills``, ``get_skill``)
* ``runlog.persistence``: ``RunRegistry`` and the SQLite bootstrap helpers
* ``runlog.gateway``: ``create_app(settings)``, the ASGI app
* ``python -m runlog serve``: run the gateway with uvicorn
"""

__version__ = "0.1.0"
