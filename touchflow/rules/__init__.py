"""The rule language: the schema, loading rules/*.yaml, conditions and what they see."""
