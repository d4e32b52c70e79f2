"""catalog.json: the non-secret facts of every registry, for CI pipelines."""

from __future__ import annotations

import json

from . import planning, providers


def catalog(registries: list) -> str:
    entries = []
    for reg in sorted(registries, key=lambda r: r.name):
        entries.append(
            {
                "name": reg.name,
                "provider": reg.provider,
                "url": planning.host(reg),
                "type": reg.type,
                "pushContainerImages": reg.pushContainerImages,
                "pushHelmPackages": reg.pushHelmPackages,
                "default": reg.default,
                "useAsChartRepository": reg.useAsChartRepository,
                "chartRepositories": [
                    {"path": p, "url": planning.chart_url(reg, p, scheme=True)} for p in reg.chartRepositories
                ],
                "ociHost": providers.get(reg.provider).oci_host(planning.host(reg)),
            }
        )
    return json.dumps({"apiVersion": "regops.io/v1alpha1", "kind": "Catalog", "registries": entries}, indent=2) + "\n"
