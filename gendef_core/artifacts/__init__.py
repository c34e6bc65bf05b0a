"""On-disk artifacts (clip, dataset, checkpoint and config, shots, tracks and points, masks and the images
of the edit commands, flow): the contract specified in FORMATS.md.

The bottom layer of the library: these modules know tensors, JSON and (`edit_images`) the label mask,
overlay and canonical PNGs, and import nothing but `gendef_core.errors`, `gendef_core.events`, the version
and the pure geometry of `gendef_core.warp` (tests/unit/test_import_layers.py). Rendering the videos and
images that go beside them happens above (`gendef_core.clips`, `gendef_core.render`, `gendef_core.data`).
"""
