"""The ASGI gateway: a FastAPI app over the store, the skills and the registry."""

from runlog.gateway.app import create_app
from runlog.gateway.settings import Settings

__all__ = ["Settings", "create_app"]
