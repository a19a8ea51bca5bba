from keras_cxr.models.gmml.gmml import GMML, gmml_vit_small, masked_l1
