"""Planning: the pure planner, what only it uses, and the preview built on it."""
