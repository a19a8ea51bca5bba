"""keras_cxr.losses."""
