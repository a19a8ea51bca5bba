"""Disease + age multitask model (paper 002, stage 2)."""
from keras_cxr.models.disease_age.disease_age import ScaledMeanSquaredError, disease_age_losses, disease_age_model
