"""The names validation checks (naming.generated) are exactly the objects a render plans."""

from __future__ import annotations

from pathlib import Path

from compiler.naming import WORKLOAD, generated
from compiler.planning import plan_cluster
from compiler.validation import validate_config

ROOT = Path(__file__).resolve().parents[2]


def test_generated_names_match_the_plan():
    result = validate_config(ROOT / "examples" / "basic")
    assert result.ok
    config = result.config
    registries = [r.model for r in config.registries]
    prefix = config.settings.secretNamePrefix
    checked = 0
    for index_c, cl in enumerate(config.clusters):
        cluster = cl.model
        plan = plan_cluster(cluster, registries, config.settings)
        planned = {(i.namespace, i.kind, i.name) for i in plan.intents if i.kind not in ("ServiceAccount", "ConfigMap")}
        # ExternalSecrets produce a Secret of their own name in the cluster
        planned |= {(ns, "Secret", name) for ns, kind, name in planned if kind == "ExternalSecret"}
        expected = set()
        for index, reg in enumerate(registries):
            if cluster.name not in config.available[index]:
                continue
            for gen in generated(reg, cluster.syncTool, prefix):
                for ns in cluster.namespaces if gen.scope == WORKLOAD else [cluster.controller_namespace]:
                    expected.add((ns, gen.kind, gen.name))
        assert planned == expected, cluster.name
        checked += len(planned)
    assert checked > 100
