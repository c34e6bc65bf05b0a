"""gendef: an implementation of GenDeF (generative deformation fields for video generation).

Import the pieces you need, e.g. `from gendef_core import api` or `from gendef_core.warp import warp`.
This module stays import-light so that `gendef --help` is fast.
"""

__version__ = "0.7.0"
