"""keras_cxr.ensembles."""
