"""keras_cxr.data."""
from keras_cxr.data.readers import ImageReadError, read_image
from keras_cxr.data.phantom import FINDINGS, PhantomDataset, make_phantom_dataset
