"""The web console: server-rendered pages under ``/console/`` of the daemon's HTTP interface.

Served only when touchflow.yaml has an ``http:`` section (the same Starlette app as the
JSON API, docs/console.md). Pages read the daemon's store and plan through the same
functions as `touchflow forecast`, `why` and `retry`; nothing here plans or sends itself.
"""
