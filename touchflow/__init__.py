"""touchflow: customer touchpoints as reviewed, versioned YAML, sent on time, once each."""

__version__ = "0.1.0"
