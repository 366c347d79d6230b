"""Beyond one machine: long videos and whole folders upscaled segment by segment on a Ray cluster.

One module per job: :mod:`~vsr.cluster.segments` (where to cut, at keyframes),
:mod:`~vsr.cluster.segment_reader` (decode one segment from the source),
:mod:`~vsr.cluster.task` (one segment into its part file), :mod:`~vsr.cluster.join` (parts into
the output, with the source's other streams), :mod:`~vsr.cluster.manifest` (what is done, for
resuming), :mod:`~vsr.cluster.part_check` (whether a part kept from before may be reused),
:mod:`~vsr.cluster.inputs` (which videos, which outputs), :mod:`~vsr.cluster.settings` (what tasks
are told), :mod:`~vsr.cluster.ray_runner` (the only module that imports Ray),
:mod:`~vsr.cluster.ray_reaper` (the watchdog that stops a local Ray when vsr dies) and
:mod:`~vsr.cluster.run` (:func:`upscale_cluster`, which joins them).

Ray is optional (``pip install 'vsr[cluster]'``); importing this package does not import it.
"""
from .run import ClusterResult, ClusterVideoResult, upscale_cluster
from .settings import ClusterSettings

__all__ = ["ClusterResult", "ClusterSettings", "ClusterVideoResult", "upscale_cluster"]
