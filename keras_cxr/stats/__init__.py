"""keras_cxr.stats."""
