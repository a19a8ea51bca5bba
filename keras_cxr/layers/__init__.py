"""keras_cxr.layers."""
