"""Problem files: the schema, loading, running a study."""
