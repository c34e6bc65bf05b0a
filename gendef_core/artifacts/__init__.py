"""On-disk artifacts (clip, dataset, checkpoint and config, shots, tracks and points, masks, flow): the
contract specified in FORMATS.md.

The bottom layer of the library: these modules know tensors and JSON only and import nothing but
`gendef_core.errors`, `gendef_core.events`, the version and the pure geometry of `gendef_core.warp`
(tests/unit/test_layers.py). Rendering the videos and images that go beside them happens above
(`gendef_core.clips`, `gendef_core.render`, `gendef_core.data`).
"""
