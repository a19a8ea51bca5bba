"""keras_cxr.data."""
from keras_cxr.data.readers import ImageReadError, read_image
