"""Losses (keras.ops only): SSIM loss of paper 003."""

from keras_cxr.losses.ssim import SSIMLoss
from keras_cxr.losses.dice_bce import DiceBCELoss
