"""The daemon's HTTP interface: events in, customers, preview, one-click unsubscribe,
health and metrics (Starlette, served by uvicorn in the daemon's own event loop).

Importing this package imports nothing heavy: ``settings`` is read by the config
loader of every command; the web stack is imported only by ``app`` and ``server``.
"""
