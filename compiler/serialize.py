"""YAML text of non-secret objects: block style, key order kept, never wrapped."""

from __future__ import annotations

import yaml

from . import yamltext

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(obj: dict) -> str:
    try:
        return yamltext.emit(obj)
    except yamltext.NotSimple:
        return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=2**30, allow_unicode=True)
