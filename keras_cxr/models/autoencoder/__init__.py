"""Convolutional autoencoder on any registered CNN backbone (paper 002, stage 1)."""
from keras_cxr.models.autoencoder.autoencoder import autoencoder
