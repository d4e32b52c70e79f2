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


def test_api_versions_table_matches_the_templates():
    """Schema identity of unrendered objects uses rendering.API_VERSIONS; it must say what the templates say."""
    from compiler.rendering import API_VERSIONS, render_cluster

    result = validate_config(ROOT / "examples" / "basic")
    config = result.config
    registries = [r.model for r in config.registries]
    provider_of = {r.name: r.provider for r in registries}
    secrets = {r.name: {"username": "u", "password": "p", "token": "t", "accessKeyId": "a", "secretAccessKey": "s",
                        "serviceAccountKey": '{"type":"service_account","project_id":"p","private_key":"k","client_email":"e"}'} for r in registries}
    seen = set()
    for cl in config.clusters:
        plan = plan_cluster(cl.model, registries, config.settings)
        for obj in render_cluster(plan, provider_of, secrets):
            if obj.kubernetes:
                assert API_VERSIONS[obj.obj["kind"]] == obj.obj["apiVersion"]
                seen.add(obj.obj["kind"])
    assert seen == set(API_VERSIONS)
