"""Questions about the plan that need the store and more than the planner: `touchflow diff`.

Above ``send`` (the diff applies the daemon's outbox logic without writing) and below the
edges (``http``, ``cli``), which stay thin.
"""
