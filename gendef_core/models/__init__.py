"""Neural-network building blocks of GenDeF: StyleGAN2 layers, MTM, mapping and synthesis networks.

Modules, one concept each:

* `layers`: equalized-lr linear layer, modulated convolution, `SynthesisLayer` and `ToRGB`.
* `mtm`: plain-PyTorch modulated deformable convolution, the core of MTM.
* `mapping`: the z -> w mapping network with its tracked `w_avg`.
* `synthesis`: the StyleGAN2-style skip-architecture synthesis network.
"""
