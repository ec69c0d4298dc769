"""The store: the engine, the embedded cluster, the schema and its migrations."""
