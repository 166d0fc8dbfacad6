"""The `touchflow` command: parse arguments, call one flow, map errors to exit codes."""
