"""Code the inventory must stay silent on: offloaded, awaited, same-name, pure, sync-only."""
