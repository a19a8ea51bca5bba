from keras_cxr.models.shufflenet.shufflenet import ChannelShuffle, shufflenet_v1
