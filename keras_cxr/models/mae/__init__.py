from keras_cxr.models.mae.dual_mae import DualMAE, copy_online_to_target
from keras_cxr.models.mae.mae import MAE, masked_mse, vit_from_mae
