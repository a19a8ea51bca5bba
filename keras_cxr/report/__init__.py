"""keras_cxr.report."""
