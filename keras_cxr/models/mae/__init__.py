from keras_cxr.models.mae.dual_mae import DualMAE, copy_online_to_target, dual_mae_vit_small
from keras_cxr.models.mae.mae import MAE, mae_vit_small, masked_mse
