"""vsr: real-time video super-resolution (ESPCN, MSRN) on the luma plane.

The Python API the command line wraps::

    import vsr
    vsr.upscale_path("in.png", "out.png", model="espcn", scale=3)
"""
__version__ = "0.1.0"
