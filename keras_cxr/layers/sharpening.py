"""Fixed sharpening filter applied per channel (Sharp U-Net skip connections, paper 003 §2.3.1)."""

import keras
import numpy as np
from keras import ops

SHARPENING_KERNEL = np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]], dtype="float32")


@keras.saving.register_keras_serializable(package="keras_cxr")
class SharpeningConv2D(keras.layers.Layer):
    """Depthwise 3 × 3 convolution with the fixed sharpening kernel [[0,-1,0],[-1,5,-1],[0,-1,0]].

    Every channel is filtered independently with the same kernel, `same` zero padding, stride 1, no bias.
    The kernel is a constant, not a weight: the layer has no trainable or non-trainable weights, so a
    `.keras` file stores nothing for it and reloading rebuilds the same constant. We write this layer
    instead of a frozen `keras.layers.DepthwiseConv2D` so the kernel cannot be trained, overwritten by
    `load_weights` or initialized differently, and the paper's "no learnable parameters" holds by design.

    The kernel is symmetric, so cross-correlation (what Keras computes) equals convolution.

    Which kernel: paper 003 (§2.3.1) states [[0, -1, 0], [-1, 5, -1], [0, -1, 0]] and we use it. Zunair &
    Hamza's released Sharp U-Net (github.com/hasibzunair/sharp-unets, `demo.ipynb`, `get_kernel()`)
    defines three kernels and builds its sharp blocks from the second, commented "used in paper":
    [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]] (frozen `DepthwiseConv2D`). The two differ in kind: ours sums
    to 1 (the feature map plus its 4-neighbour Laplacian: flat regions pass unchanged, edges are boosted),
    theirs sums to 0 (the 8-neighbour Laplacian alone: flat regions become 0 and only edges reach the
    decoder). A user reproducing Zunair & Hamza rather than paper 003 needs the second kernel, which this
    layer does not offer.

    Args:
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (batch, height, width, channels) feature maps, channels-last.

    Returns:
        (batch, height, width, channels) sharpened feature maps.

    Example:
    >>> import numpy as np
    >>> delta = np.zeros((1, 5, 5, 1), "float32")
    >>> delta[0, 2, 2, 0] = 1.0
    >>> out = keras.ops.convert_to_numpy(SharpeningConv2D()(delta))
    >>> out[0, 1:4, 1:4, 0].tolist()
    [[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]

    Reference:
        Zunair & Hamza, "Sharp U-Net: Depthwise convolutional network for biomedical image
        segmentation", Computers in Biology and Medicine 136:104699 (2021), doi:10.1016/j.compbiomed.2021.104699;
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.1 (the kernel we use).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"SharpeningConv2D expects (batch, height, width, channels) inputs; received shape {input_shape}."
            )
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"SharpeningConv2D needs a known channel count; received input shape {input_shape}.")
        # numpy constant, converted in call(): no weight, and no tensor created inside a traced function.
        self._kernel = np.tile(SHARPENING_KERNEL[:, :, None, None], (1, 1, int(channels), 1))

    def call(self, inputs):
        kernel = ops.convert_to_tensor(self._kernel, dtype=keras.backend.standardize_dtype(inputs.dtype))
        return ops.depthwise_conv(inputs, kernel, strides=1, padding="same")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return super().get_config()
