"""Faster PyTorch kernels for the Keras ops a CNN or a UNETR spends its time in: the layout step of convolutions
and pooling, batch normalization, group (instance) normalization, dense layers.

Why (issue 30, profiled with torch.profiler on ResNet-50 and MobileNetV2 training steps beside timm's, 2-core
AMD EPYC, Keras 3.15.1 on torch 2.13.0; `benchmarks/cnn_backbones.py` has the numbers):

- Before every torch convolution, transposed convolution and pooling, Keras turns the channels-last input into
  channels-first with `permute(...).contiguous()` (a copy into NCHW memory); its conv then copies it back into
  channels-last memory for oneDNN (`_maybe_convert_to_channels_last`): two copies of every activation for
  nothing, since the permuted view of an NHWC tensor already *is* a `torch.channels_last` tensor. `aten::copy_`
  took 16 % of a ResNet-50 step.
- Keras' `BatchNormalization` and `GroupNormalization` compute moments and the normalization with a dozen
  generic ops each way, where PyTorch has one fused kernel (`native_batch_norm`, `native_group_norm` and
  their backward); about another 15 %.

`install()` replaces Keras' torch `_transpose_spatial_inputs` with a copy-free one (so `conv`, `depthwise_conv`,
`separable_conv`, `conv_transpose` and the poolings get a channels-last tensor as they are), `Dense.call` with
one `F.linear` (matmul and bias in one `addmm`), and the two normalization layers' `call` with one that calls
PyTorch's kernels (batch norm in training: batch statistics,
then the moving averages updated as Keras does). Same arithmetic, same variables, same `.keras` files: a model
trained with them loads and predicts identically without them and on TensorFlow (tests compare outputs,
gradients and moving statistics with Keras' own functions). Masks, renorm, synchronized BN and other axes fall
through to Keras unchanged. (The third piece, the optimizer: `keras_cxr.optimizers.AdamW`, which the recipes'
"adam" and "adamw" are, runs Keras' update on torch's fused AdamW kernel.)

Installed when `keras_cxr.layers` is imported on the torch backend (so by every keras_cxr model); set
`KERAS_CXR_TORCH_KERNELS=0` to keep Keras' own. Written by hand because no library provides it: the fix belongs
in Keras' torch backend, and would be withdrawn from here once Keras ships it.

This module imports Keras' torch backend, so it is imported only on that backend (`keras_cxr.layers`)."""

import os

import keras
import torch
import torch.nn.functional as F
from keras.src.backend.torch import nn as torch_nn

ENV = "KERAS_CXR_TORCH_KERNELS"
keras_transpose_spatial_inputs = torch_nn._transpose_spatial_inputs  # Keras' own, for the fall-through and tests
keras_batch_norm_call = keras.layers.BatchNormalization.call
keras_dense_call = keras.layers.Dense.call
keras_group_norm_call = keras.layers.GroupNormalization.call


def transpose_spatial_inputs(inputs):
    """Keras' channels-last → channels-first step before every torch convolution, transposed convolution and
    pooling, without the copy: the permuted view of an NHWC (NDHWC) tensor is already a
    `torch.channels_last` (`channels_last_3d`) tensor, the memory format oneDNN convolves fastest; Keras'
    `.contiguous()` copies it into NCHW memory, and its conv then copies it back into channels-last memory.
    A tensor that is not channels-last-contiguous after the permute (a strided slice, say) is made so."""
    if inputs.ndim not in (4, 5):
        return keras_transpose_spatial_inputs(inputs)
    order, memory = ((0, 3, 1, 2), torch.channels_last) if inputs.ndim == 4 else \
        ((0, 4, 1, 2, 3), torch.channels_last_3d)
    x = inputs.permute(*order)
    return x if x.is_contiguous(memory_format=memory) else x.contiguous(memory_format=memory)


def _channel_axis(layer, ndim):
    axis = layer.axis[0] if isinstance(layer.axis, (list, tuple)) and len(layer.axis) == 1 else layer.axis
    return axis % ndim if isinstance(axis, int) else None


def batch_norm_call(self, inputs, training=None, mask=None):
    """`BatchNormalization.call` through PyTorch's fused batch-norm kernels (one channel axis, first after the
    batch or last; no mask, renorm or synchronization: those go to Keras' own call)."""
    ndim = len(inputs.shape)
    axis = _channel_axis(self, ndim) if ndim >= 2 else None
    if (mask is not None or self.renorm or getattr(self, "synchronized", False) or axis not in (1, ndim - 1)
            or not torch.is_tensor(inputs)):
        return keras_batch_norm_call(self, inputs, training=training, mask=mask)
    x = inputs.float() if inputs.dtype in (torch.float16, torch.bfloat16) else inputs  # Keras: float32 at least
    if axis != 1:
        x = x.movedim(axis, 1)
    gamma = self.gamma.value.to(x.dtype) if self.scale else None
    beta = self.beta.value.to(x.dtype) if self.center else None
    if training and self.trainable:
        outputs, mean, inverse_std = torch.native_batch_norm(x, gamma, beta, None, None, True, 0.0, self.epsilon)
        variance = (1.0 / (inverse_std * inverse_std) - self.epsilon).detach()
        moving_mean = self.moving_mean.value.to(x.dtype)
        moving_variance = self.moving_variance.value.to(x.dtype)
        self.moving_mean.assign(moving_mean * self.momentum + mean.detach() * (1.0 - self.momentum))
        self.moving_variance.assign(moving_variance * self.momentum + variance * (1.0 - self.momentum))
    else:
        outputs = F.batch_norm(x, self.moving_mean.value.to(x.dtype), self.moving_variance.value.to(x.dtype), gamma,
                               beta, False, 0.0, self.epsilon)
    if axis != 1:
        outputs = outputs.movedim(1, axis)
    return keras.ops.cast(outputs, self.compute_dtype)


def group_norm_call(self, inputs):
    """`GroupNormalization.call` through PyTorch's fused group-norm kernel (`native_group_norm`; channel axis
    last or first after the batch; the instance norm of UNETR is `groups=-1`); other layouts go to Keras'."""
    ndim = len(inputs.shape)
    axis = self.axis % ndim if ndim >= 3 else None
    if axis not in (1, ndim - 1) or not torch.is_tensor(inputs):
        return keras_group_norm_call(self, inputs)
    x = inputs.float() if inputs.dtype in (torch.float16, torch.bfloat16) else inputs  # Keras: float32 at least
    if axis != 1:
        x = x.movedim(axis, 1)
    gamma = self.gamma.value.to(x.dtype) if self.scale else None
    beta = self.beta.value.to(x.dtype) if self.center else None
    outputs = F.group_norm(x, self.groups, gamma, beta, self.epsilon)
    if axis != 1:
        outputs = outputs.movedim(1, axis)
    return keras.ops.cast(outputs, self.compute_dtype)


def dense_call(self, inputs, training=None):
    """`Dense.call` as one `F.linear` (`addmm`: the bias added inside the matrix product, and its gradient summed
    there too) where Keras makes a `matmul` and a separate broadcast `add` (UNETR profile, issue 30: ~10 % of
    each of the ViT's 48 dense layers, forward + backward). Quantized, LoRA and non-tensor cases go to Keras'."""
    if self.quantization_mode is not None or self.lora_enabled or not torch.is_tensor(inputs):
        return keras_dense_call(self, inputs, training)
    kernel = self._kernel.value.to(inputs.dtype)
    bias = None if self.bias is None else self.bias.value.to(inputs.dtype)
    x = F.linear(inputs, kernel.t(), bias)
    return self.activation(x) if self.activation is not None else x


def install():
    """Puts `conv` and `batch_norm_call` in place of Keras' (once; not when `KERAS_CXR_TORCH_KERNELS=0`).
    Returns whether they are installed."""
    if os.environ.get(ENV, "1") == "0":
        return False
    torch_nn._transpose_spatial_inputs = transpose_spatial_inputs
    keras.layers.BatchNormalization.call = batch_norm_call
    keras.layers.GroupNormalization.call = group_norm_call
    keras.layers.Dense.call = dense_call
    return True


def uninstall():
    """Restores Keras' own `conv` and `BatchNormalization.call`."""
    torch_nn._transpose_spatial_inputs = keras_transpose_spatial_inputs
    keras.layers.BatchNormalization.call = keras_batch_norm_call
    keras.layers.GroupNormalization.call = keras_group_norm_call
    keras.layers.Dense.call = keras_dense_call
