"""vsr's version, the one place it is written: setup.cfg reads it (``attr: vsr._version.__version__``),
``vsr.__version__`` and ``vsr --version`` show it, and a cluster run's fingerprint records it. A leaf
module, so any layer may import it without importing the package above it."""
__version__ = "0.1.0"
