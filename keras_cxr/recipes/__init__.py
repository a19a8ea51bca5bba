"""keras_cxr.recipes."""
