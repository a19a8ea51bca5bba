"""keras_cxr.explain."""
