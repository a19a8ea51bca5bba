"""keras_cxr.data."""
