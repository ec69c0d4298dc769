"""The ``gisplan`` command line."""
