"""keras_cxr.models."""
