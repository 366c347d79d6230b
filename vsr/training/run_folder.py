"""The files a training run keeps in its output folder (``vsr train --out``).

One owner for their names: the trainer writes them, and the maintainers' scripts that park, ship and
average runs (scripts/) read them, so a run folder, a parked folder and an averaged one are read alike.
"""
BEST_WEIGHTS = "best.safetensors"  # the epoch with the best validation PSNR so far
LAST_WEIGHTS = "last.safetensors"  # the weights when the schedule ended; absent while a run is unfinished
CHECKPOINT = "checkpoint.pt"  # everything needed to resume, after the latest epoch
SUMMARY = "summary.json"  # config, commands and validation curve, rewritten after every epoch
