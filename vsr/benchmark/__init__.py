"""``vsr bench``: speed and quality measurements, written as JSON, Markdown and plots."""
