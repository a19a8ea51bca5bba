"""dtype_policy="auto": the fast policy of the device, decided from the GPU's capability or the CPU's flags."""

import keras
import numpy as np
import pytest

from keras_cxr.recipes import _dtype_policy
from keras_cxr.recipes._dtype_policy import dtype_policy_scope, resolve_dtype_policy


@pytest.mark.parametrize("capability, flags, expected", [
    ((9, 0), set(), "mixed_bfloat16"),  # H100
    ((8, 0), set(), "mixed_bfloat16"),  # A100
    ((7, 5), {"avx512_bf16"}, "mixed_float16"),  # T4: the GPU decides, not the host CPU
    ((6, 0), set(), "mixed_float16"),  # P100
    (None, {"amx_bf16", "avx2"}, "mixed_bfloat16"),  # Sapphire Rapids CPU
    (None, {"avx512_bf16"}, "mixed_bfloat16"),  # Zen 4 CPU
    (None, {"avx2", "avx512f"}, "float32"),
])
def test_auto_resolves_per_device(monkeypatch, capability, flags, expected):
    monkeypatch.setattr(_dtype_policy, "_gpu_capability", lambda: capability)
    monkeypatch.setattr(_dtype_policy, "_cpu_flags", lambda: flags)
    assert resolve_dtype_policy("auto") == expected
    before = keras.config.dtype_policy().name
    with dtype_policy_scope("auto") as resolved:
        assert resolved == expected == keras.config.dtype_policy().name
    assert keras.config.dtype_policy().name == before


def test_explicit_policies_and_errors():
    assert resolve_dtype_policy("mixed_float16") == "mixed_float16"
    with pytest.raises(ValueError, match="'auto' or one of"):
        resolve_dtype_policy("bfloat16")


@pytest.mark.slow_on_tensorflow  # 120 s there (CI budget): Keras' LossScaleOptimizer is the same on both back ends
def test_auto_on_an_old_gpu_trains_a_recipe_in_float16_with_loss_scaling(monkeypatch, tmp_path):
    """A T4 / P100 (compute capability < 8, no bf16 units, Kaggle's GPUs): "auto" is mixed_float16, Keras
    scales the loss, and config.json says what "auto" chose."""
    import json

    from keras_cxr.recipes import dual_mae
    from tests.recipes.test_dual_mae import TINY

    monkeypatch.setattr(_dtype_policy, "_gpu_capability", lambda: (7, 5))  # a T4
    assert dual_mae.Config().dtype_policy == "auto"  # the default of every recipe (RecipeConfig)
    metrics = dual_mae.run(dual_mae.Config.quick(output_dir=str(tmp_path), methods=("mae",), **TINY))
    assert keras.config.dtype_policy().name == "float32"  # the caller's policy is back
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["dtype_policy"] == "auto" and written["dtype_policy_resolved"] == "mixed_float16"
    assert 0.0 <= metrics["table_3_4"]["mae"]["mean_auc"][0] <= 1.0
    model = keras.saving.load_model(tmp_path / "models/mae_mask85.keras")
    assert model.dtype_policy.name == "mixed_float16"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    finetuned = sorted(tmp_path.glob("results/finetune_*.npz"))
    assert finetuned and all(np.isfinite(np.load(f)["loss"]).all() for f in finetuned)  # no float16 overflow
