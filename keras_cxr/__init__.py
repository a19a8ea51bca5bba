"""keras_cxr: self-supervised pretraining on adult chest X-rays, transfer to pediatric chest X-rays.

Runs unchanged on the TensorFlow and PyTorch backends of Keras 3. Subpackages:

- ``keras_cxr.data``: image readers, dataset indexes, transforms, input pipelines, synthetic phantom.
- ``keras_cxr.layers`` / ``keras_cxr.models``: reusable layers and model builders.
- ``keras_cxr.losses`` / ``keras_cxr.metrics`` / ``keras_cxr.stats`` / ``keras_cxr.ensembles``: evaluation.
- ``keras_cxr.explain``: Score-CAM and boxes from activation maps.
- ``keras_cxr.report``: plots and run reports.
- ``keras_cxr.recipes``: one module per paper, end to end.
"""

__version__ = "0.1.0"
