"""keras_cxr.callbacks."""
