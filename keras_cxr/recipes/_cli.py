"""Maps a recipe's `Config` dataclass to command-line flags (one `--flag` per field)."""

import argparse
import dataclasses
import typing


def _parse_bool(text):
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, received {text!r}")


def _field_parser(field):
    hint = field.type if not isinstance(field.type, str) else eval(field.type, {}, {})  # noqa: S307 - own annotations
    args = typing.get_args(hint)
    base = next((a for a in args if a is not type(None)), hint) if args and type(None) in args else hint
    default = field.default
    if base is bool:
        return dict(type=_parse_bool, metavar="true|false")
    if base is tuple or isinstance(default, tuple):
        element = type(default[0]) if default else str
        return dict(type=element, nargs="+", action="extend")  # --dir A B, or --dir A --dir B
    if base in (int, float, str):
        return dict(type=base)
    return dict(type=str)


def parse_config(config_class, argv=None, description=None):
    """Parses `argv` into `config_class`; `--quick` starts from `config_class.quick()`.

    Field `pretext_dir` becomes `--pretext-dir`; tuples take several values (`--seeds 0 1 2`, or the flag
    repeated: `--pretrain-dir A --pretrain-dir B`); booleans take true/false.
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="start from Config.quick(): minutes on a CPU")
    for field in dataclasses.fields(config_class):
        parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None,
                            help=f"default {field.default!r}", **_field_parser(field))
    args = vars(parser.parse_args(argv))
    quick = args.pop("quick")
    overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in args.items() if v is not None}
    return config_class.quick(**overrides) if quick else config_class(**overrides)


def write_config(config, path):
    """Writes the resolved Config as JSON with the environment (see `keras_cxr.recipes.base.write_config`)."""
    from keras_cxr.recipes.base import write_config as write

    write(config, path)
