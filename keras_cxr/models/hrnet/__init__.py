from keras_cxr.models.hrnet.hrnet import hrnet_w32
