"""keras_cxr.optimizers."""
