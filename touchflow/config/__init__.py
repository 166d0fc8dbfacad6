"""touchflow.yaml: the project configuration, one module per section."""
