"""keras_cxr.metrics."""
