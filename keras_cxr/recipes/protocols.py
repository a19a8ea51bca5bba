"""Evaluation protocols every recipe offers beside fine-tuning: linear probing and label-efficiency sweeps.

All four papers claim one thing: pretraining without labels helps when pediatric labels are scarce. Two
protocols test that claim the way the self-supervised literature does, whatever the recipe:

- **Linear probing** (facebookresearch/mae `main_linprobe.py`; He et al. 2022, appendix A.3): the pretrained
  encoder frozen, its pooled features (`keras_cxr.models.probe_features`) standardized by a BatchNorm without
  affine parameters, one linear layer trained (`keras_cxr.models.linear_probe`) with SGD, momentum 0.9, no
  weight decay, lr = blr × batch / 256 with warm-up + cosine. It measures the features, not what fine-tuning
  can repair. Defaults: mae's (`RecipeConfig.linprobe_*`: blr 0.1, 90 epochs, 10 warm-up epochs).
- **Label efficiency**: the same fine-tuning on nested, patient-level, stratified fractions of the training
  labels (`keras_cxr.data.label_fraction_subsets`: 10 % ⊂ 50 % ⊂ 100 %, every class present), for a
  pretrained model and its from-scratch twin, drawn as metric vs labelled images (paper 000's Tables 5-6,
  paper 001's pediatric results): the gap where labels are few is the papers' point.

A recipe's fine-tuning function takes `fraction` and `protocol` and names its stage with `stage_suffix`; the
recipe then calls `label_efficiency` with a score per (method, fraction, seed) and shows the result with
`label_efficiency_section`.
"""

import numpy as np

from keras_cxr.data import label_fraction_subsets
from keras_cxr.models import linear_probe, probe_features
from keras_cxr.recipes import engine
from keras_cxr.report import plot_label_efficiency
from keras_cxr.report.document import beside, table

PROTOCOLS = ("finetune", "linear_probe")


def check_protocol(protocol):
    """Raises a ValueError naming the protocols for an unknown one."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}; protocols: {PROTOCOLS}.")


def stage_suffix(fraction=1.0, protocol="finetune"):
    """The stage-name suffix of a run on `fraction` of the labels with `protocol`: "" for fine-tuning on every
    label (the main run keeps its name), "_linprobe", "_fraction10", "_linprobe_fraction10".

    >>> stage_suffix(), stage_suffix(0.1), stage_suffix(1.0, "linear_probe")
    ('', '_fraction10', '_linprobe')
    """
    check_protocol(protocol)
    return ("_linprobe" if protocol == "linear_probe" else "") + (
        "" if fraction >= 1.0 else f"_fraction{int(round(fraction * 100))}")


def labelled_fraction(index, fraction, seed=0):
    """`fraction` of a labelled training index: the nested, patient-level, stratified subset of
    `label_fraction_subsets` (every class keeps a positive); the index itself for fraction 1."""
    fraction = float(fraction)
    if fraction >= 1.0:
        return index
    subset = label_fraction_subsets(index, (fraction, 1.0), seed=seed)[fraction]
    if len(subset) == 0:
        raise ValueError(f"label fraction {fraction} keeps none of the {len(index)} training images; use a larger "
                         "fraction (--label-fractions) or more data.")
    return subset


def probe_model(encoder, num_classes, head_activation="softmax"):
    """The linear-probing classifier of a pretrained model: `linear_probe(probe_features(encoder))`."""
    return linear_probe(probe_features(encoder), num_classes, head_activation)


def probe_optimizer(config, batch_size, epochs=None):
    """mae's linear-probing optimizer as an `engine.fit` optimizer factory (steps per epoch → optimizer):
    SGD, momentum 0.9, no weight decay, lr = `linprobe_blr` × batch / 256, `linprobe_warmup_epochs` of linear
    warm-up then cosine over `linprobe_epochs` (LARS in mae, for its 16384 batch; plain SGD at our batches)."""
    epochs = int(epochs or config.linprobe_epochs)
    return lambda steps: engine.make_optimizer(
        "sgd", config.linprobe_blr * batch_size / 256, schedule="cosine", steps_per_epoch=steps, epochs=epochs,
        warmup_epochs=min(config.linprobe_warmup_epochs, max(epochs - 1, 0)), momentum=0.9)


def label_efficiency(fractions, methods, score, seeds=(0,)):
    """{method: {fraction: (mean, sd)}}: `score(method, fraction, seed) -> float` over the seeds (population
    sd), for every method and fraction (fractions sorted, duplicates dropped).

    >>> label_efficiency((1.0, 0.5), ["a"], lambda m, f, s: f + s, seeds=(0, 1))
    {'a': {0.5: (1.0, 0.5), 1.0: (1.5, 0.5)}}
    """
    found = {}
    for method in methods:
        for fraction in sorted({float(f) for f in fractions}):
            values = [float(score(method, fraction, seed)) for seed in seeds]
            found.setdefault(method, {})[fraction] = (float(np.mean(values)), float(np.std(values)))
    return found


def draw_label_efficiency(figures, results, num_labelled, metric, paper=None, title="Label efficiency"):
    """Draws the sweep (metric vs labelled images, `keras_cxr.report.plot_label_efficiency`) through `figures`
    (a `FigureLog`) when it has two fractions or more; returns the figure's relative path or None."""
    if len({f for row in results.values() for f in row}) < 2:
        return None
    return figures.draw(plot_label_efficiency, "label_efficiency", results, num_labelled, paper, metric=metric,
                        title=f"{title}: {metric} vs labelled images", caption=f"{title} ({metric})")


def label_efficiency_table(results, num_labelled, paper=None):
    """The sweep as report lines: one row per method, one column per fraction (with its image count), each
    cell mean ± sd over seeds and the paper's number in brackets where it gives one.

    >>> label_efficiency_table({"mae": {0.5: (0.7, 0.01), 1.0: (0.75, 0.02)}}, 100, {"mae": {1.0: 0.73}})[2]
    '| mae | 0.700 ± 0.010 | 0.750 ± 0.020 [0.730] |'
    """
    fractions = sorted({f for row in results.values() for f in row})
    paper = paper or {}
    return table(["method", *(f"{f:.0%} ({int(round(f * num_labelled))} images)" for f in fractions)],
                 [[method] + [beside(row[f], paper.get(method, {}).get(round(f, 2)), 3, "brackets") if f in row
                              else "—" for f in fractions] for method, row in results.items()])
