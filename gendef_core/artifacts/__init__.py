"""On-disk artifacts (clips, datasets, checkpoints): the contract specified in FORMATS.md."""
