"""The ``vsr`` command line: thin wrappers that parse flags and call the Python API."""
