"""The interface every exported graph has: one input ``x`` (N, 1, H, W) float32, one output ``y``
(N, 1, sH, sW) float32, opset 17 unless asked otherwise. Here, apart from the exporter, so that a
runtime can feed a cached graph without importing torch."""

DEFAULT_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "x", "y"
