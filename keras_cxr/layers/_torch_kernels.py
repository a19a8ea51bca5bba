"""Faster PyTorch kernels for the two Keras ops a CNN spends its time in: convolution and batch normalization.

Why (issue 30, profiled with torch.profiler on a ResNet-50 training step, batch 8 at 128 px, 2-core AMD EPYC,
Keras 3.15.1 on torch 2.13.0; `benchmarks/cnn_backbones.py` has the numbers):

- Keras' torch `conv` turns each channels-last input into channels-first with `permute(...).contiguous()` (a
  copy into NCHW memory) and then, for oneDNN, back into channels-last memory with
  `.contiguous(memory_format=torch.channels_last)` (a second copy): two copies of every activation for nothing,
  since the permuted view of an NHWC tensor already *is* a channels-last NCHW tensor. `aten::copy_` took 16 % of
  the step.
- Keras' `BatchNormalization` computes moments and the normalization with a dozen generic ops (mean, square,
  subtract, rsqrt, mul, add, and their backward), where PyTorch has one fused kernel each way
  (`native_batch_norm` / `native_batch_norm_backward`); another ~15 % of the step.

`install()` replaces Keras' torch `conv` (which `depthwise_conv` and `separable_conv` call too) with one that
passes the permuted view straight to `torch.nn.functional.conv2d`, and `BatchNormalization.call` with one that
calls `torch.native_batch_norm` (training: batch statistics, then the moving averages updated as Keras does)
or `torch.nn.functional.batch_norm` (inference). Same arithmetic, same variables, same `.keras` files: a model
trained with them loads and predicts identically without them and on TensorFlow (tests compare outputs,
gradients and moving statistics with Keras' own functions). Everything else — other ranks, masks, renorm,
synchronized BN, channels-first convolutions — falls through to Keras unchanged.

Installed when `keras_cxr.layers` is imported on the torch backend (so by every keras_cxr model); set
`KERAS_CXR_TORCH_KERNELS=0` to keep Keras' own. Written by hand because no library provides it: the fix belongs
in Keras' torch backend, and would be withdrawn from here once Keras ships it.

This module imports Keras' torch backend, so it is imported only on that backend (`keras_cxr.layers`).
"""

import os

import keras
import torch
import torch.nn.functional as F
from keras.src.utils.argument_validation import standardize_tuple
from keras.src.backend.config import standardize_data_format
from keras.src.backend.torch import nn as torch_nn

ENV = "KERAS_CXR_TORCH_KERNELS"
keras_conv = torch_nn.conv  # Keras' own, kept for the fall-through and for the tests
keras_batch_norm_call = keras.layers.BatchNormalization.call


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Keras' `ops.conv` without the two activation copies, for 2-D channels-last convolutions (else Keras')."""
    data_format = standardize_data_format(data_format)
    inputs, kernel = torch_nn.convert_to_tensor(inputs), torch_nn.convert_to_tensor(kernel)
    if data_format != "channels_last" or inputs.ndim != 4:
        return keras_conv(inputs, kernel, strides, padding, data_format, dilation_rate)
    x = inputs.permute(0, 3, 1, 2)  # NCHW view of NHWC memory: already torch.channels_last
    if not x.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    weight = kernel.permute(3, 2, 0, 1)  # (kh, kw, in / groups, out) → (out, in / groups, kh, kw)
    if x.shape[1] % weight.shape[1]:
        raise ValueError(f"Input channels ({x.shape[1]}) must be divisible by kernel input channels "
                         f"({weight.shape[1]})")
    strides = standardize_tuple(strides, 2, "strides")
    dilation = standardize_tuple(dilation_rate, 2, "dilation_rate")
    if padding == "same":
        x, pad = torch_nn._apply_same_padding(x, weight.shape[2:], strides, "channels_first", "conv", dilation)
    else:
        pad = 0
    outputs = F.conv2d(x, weight, stride=strides, padding=pad, dilation=dilation, groups=x.shape[1] // weight.shape[1])
    return outputs.permute(0, 2, 3, 1)


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


def install():
    """Puts `conv` and `batch_norm_call` in place of Keras' (once; not when `KERAS_CXR_TORCH_KERNELS=0`).
    Returns whether they are installed."""
    if os.environ.get(ENV, "1") == "0":
        return False
    torch_nn.conv = conv
    keras.layers.BatchNormalization.call = batch_norm_call
    return True


def uninstall():
    """Restores Keras' own `conv` and `BatchNormalization.call`."""
    torch_nn.conv = keras_conv
    keras.layers.BatchNormalization.call = keras_batch_norm_call
