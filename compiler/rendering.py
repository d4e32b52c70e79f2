"""Turns a cluster's plan into Kubernetes objects through the jinja2 templates.

Every interpolated value goes through the `q` filter, which emits a
double-quoted YAML scalar, and the environment refuses any expression that did
not: no input (a password with a newline, a name with `: `) can change a
manifest's structure. Each rendered document is parsed back, and the parsed
object is what the rest of the pipeline uses.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from . import providers
from .planning import ClusterPlan, Intent
from .resources import data_dir

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# apiVersion of every kind regops renders (the templates say the same).
API_VERSIONS = {
    "Secret": "v1",
    "ServiceAccount": "v1",
    "ConfigMap": "v1",
    "ExternalSecret": "external-secrets.io/v1",
    "ECRAuthorizationToken": "generators.external-secrets.io/v1alpha1",
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
}

NO_PRUNE = {
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
}
ARGOCD_REPOSITORY_LABEL = {"argocd.argoproj.io/secret-type": "repository"}


class RenderError(Exception):
    """A value that cannot become a manifest; the message never holds secret material."""


class Quoted(str):
    """Output of the q filter: the only thing the template environment will emit."""


# Characters a YAML double-quoted scalar must escape: quotes, backslash, C0/C1
# controls, DEL, line separators YAML would fold, surrogates and non-characters.
_ESCAPE = re.compile("[\x00-\x1f\"\\\\\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\", "\x00": "\\0"}


def _escape(m: re.Match) -> str:
    ch = m.group(0)
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def quote(value: Any) -> Quoted:
    if not isinstance(value, str):
        raise RenderError(f"template value of type {type(value).__name__} must be passed as a string")
    return Quoted('"' + _ESCAPE.sub(_escape, value) + '"')


def _only_quoted(value: Any) -> Any:
    if isinstance(value, Quoted):
        return value
    raise RenderError("template interpolates a value without the q filter")


@functools.cache
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        finalize=_only_quoted,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["q"] = quote
    return env


def render_template(name: str, context: Mapping[str, Any]) -> dict:
    text = environment().get_template(name).render(**context)
    try:
        obj = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        raise RenderError(f"template {name} produced invalid YAML") from None
    if not isinstance(obj, dict):
        raise RenderError(f"template {name} did not produce one object")
    return obj


@dataclasses.dataclass(frozen=True)
class RenderedObject:
    path: str  # inside the cluster directory
    obj: dict
    secret: bool
    kubernetes: bool = True  # an object applied to the cluster (not kustomize's own config)


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def dockerconfigjson(server: str, username: str, password: str) -> str:
    """Exactly what `kubectl create secret docker-registry` builds."""
    entry = {"username": username, "password": password, "auth": b64(f"{username}:{password}")}
    return json.dumps({"auths": {server: entry}}, separators=(",", ":"), ensure_ascii=False)


def _eso_dockerconfig(server: str) -> str:
    # Go template evaluated by External Secrets with the generator's username/password.
    auth = '{{ printf "%s:%s" .username .password | b64enc }}'
    return (
        '{"auths":{' + json.dumps(server) + ':{"username":"{{ .username }}","password":"{{ .password }}",'
        '"auth":"' + auth + '"}}}'
    )


# ---- one builder per recipe: template file and context beyond the common metadata

Secrets = Mapping[str, Mapping[str, str]]  # registry name -> decrypted auth fields
Builder = Callable[[Intent, str, Secrets], tuple[str, dict]]  # (intent, provider, secrets)


def _credentials(intent: Intent, provider: str, secrets: Secrets) -> tuple[str, str]:
    auth = secrets.get(intent.registry or "")
    if auth is None:
        raise RenderError(f"no decrypted credentials for registry '{intent.registry}'")
    try:
        return providers.get(provider).credentials(dict(auth))
    except (KeyError, ValueError) as exc:
        # gcp.KeyError_ messages are written without key material.
        detail = str(exc) if isinstance(exc, providers.gcp.KeyError_) else "credentials incomplete"
        raise RenderError(f"registry '{intent.registry}': {detail}") from None


def _pull_secret(intent, provider, secrets):
    user, password = _credentials(intent, provider, secrets)
    config = dockerconfigjson(intent.params["server"], user, password)
    return "secret.yaml.j2", {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64(config)}}


def _aws_keys(intent, provider, secrets):
    auth = secrets.get(intent.registry or "") or {}
    try:
        data = {"access-key-id": b64(auth["accessKeyId"]), "secret-access-key": b64(auth["secretAccessKey"])}
    except KeyError:
        raise RenderError(f"registry '{intent.registry}': AWS keys missing after decryption") from None
    return "secret.yaml.j2", {"type": "Opaque", "data": data}


def _helm_credentials(intent, provider, secrets):
    user, password = _credentials(intent, provider, secrets)
    return "secret.yaml.j2", {"type": "Opaque", "data": {"username": b64(user), "password": b64(password)}}


def _ca_secret(intent, provider, secrets):
    return "secret.yaml.j2", {"type": "Opaque", "data": {"ca.crt": b64(intent.params["ca"])}}


def _argocd_repository(intent, provider, secrets):
    p = intent.params
    fields = {"type": "helm", "name": p["repo_name"], "url": p["url"], "enableOCI": "true"}
    if p["credentials"]:
        user, password = _credentials(intent, provider, secrets)
        fields.update(username=user, password=password)
    if p["insecure"]:
        fields["insecure"] = "true"
    return "secret.yaml.j2", {"type": "Opaque", "string_data": fields, "extra_labels": ARGOCD_REPOSITORY_LABEL}


def _ecr_pull(intent, provider, secrets):
    return "externalsecret.yaml.j2", {
        "target_type": "kubernetes.io/dockerconfigjson",
        "target_data": {".dockerconfigjson": _eso_dockerconfig(intent.params["server"])},
    }


def _ecr_helm(intent, provider, secrets):
    return "externalsecret.yaml.j2", {
        "target_type": "Opaque",
        "target_data": {"username": "{{ .username }}", "password": "{{ .password }}"},
    }


def _ecr_argocd(intent, provider, secrets):
    p = intent.params
    data = {"type": "helm", "name": p["repo_name"], "url": p["url"], "enableOCI": "true",
            "username": "{{ .username }}", "password": "{{ .password }}"}
    if p["insecure"]:
        data["insecure"] = "true"
    return "externalsecret.yaml.j2", {"target_type": "Opaque", "target_data": data, "target_labels": ARGOCD_REPOSITORY_LABEL}


def _ecr_generator(intent, provider, secrets):
    return "ecrauthorizationtoken.yaml.j2", {}


def _helm_repository(intent, provider, secrets):
    return "flux/helmrepository.yaml.j2", {}


def _service_account(intent, provider, secrets):
    return "serviceaccount.yaml.j2", {"annotations": NO_PRUNE}


def _argocd_tls(intent, provider, secrets):
    return "configmap.yaml.j2", {"data": intent.params["certs"], "extra_labels": {"app.kubernetes.io/part-of": "argocd"}}


BUILDERS: dict[str, Builder] = {
    "pull-secret": _pull_secret,
    "aws-keys-secret": _aws_keys,
    "helm-credentials-secret": _helm_credentials,
    "ca-secret": _ca_secret,
    "argocd-repository": _argocd_repository,
    "ecr-externalsecret-pull": _ecr_pull,
    "ecr-externalsecret-helm": _ecr_helm,
    "ecr-externalsecret-argocd": _ecr_argocd,
    "ecr-generator": _ecr_generator,
    "flux-helmrepository": _helm_repository,
    "serviceaccount": _service_account,
    "argocd-tls-certs": _argocd_tls,
}


def render_intent(intent: Intent, provider: str | None, secrets: Secrets) -> RenderedObject:
    template, extra = BUILDERS[intent.template](intent, provider or "", secrets)
    context = {
        "name": intent.name,
        "namespace": intent.namespace,
        "registry": intent.registry,
        "extra_labels": {},
        "annotations": {},
        "data": {},
        "string_data": {},
        "target_labels": {},
        **intent.params,
        **extra,
    }
    return RenderedObject(intent.path, render_template(template, context), intent.secret)


def render_cluster(
    plan: ClusterPlan, provider_of: Mapping[str, str], secrets: Secrets, cache: dict | None = None, only: set[str] | None = None,
    layout: bool = True,
) -> list[RenderedObject]:
    """Every object of one cluster (or those whose path is in `only`), plus its kustomization unless not `layout`.

    `cache` (one per render, never shared between renders: keys stand for
    secrets) returns the object already rendered for an identical intent: a
    fleet has the same pull Secret in the same namespace of many clusters.
    """
    objects = []
    for intent in plan.intents:
        if only is not None and intent.path not in only:
            continue
        provider = provider_of.get(intent.registry or "")
        if cache is None:
            objects.append(render_intent(intent, provider, secrets))
            continue
        key = (intent.template, intent.namespace, intent.name, intent.registry, provider, repr(intent.params))
        found = cache.get(key)
        if found is None:
            found = cache[key] = render_intent(intent, provider, secrets)
        objects.append(found)
    return objects + kustomization(plan) if layout else objects


def kustomization_files(plan: ClusterPlan) -> list[str]:
    """The files `kustomization` writes for this plan."""
    if plan.sync_tool != "flux" and any(i.secret for i in plan.intents):
        return [KSOPS_FILE, "kustomization.yaml"]
    return ["kustomization.yaml"]


KSOPS_FILE = "ksops-secrets.yaml"


def kustomization(plan: ClusterPlan) -> list[RenderedObject]:
    """kustomization.yaml (and the KSOPS generator for argocd): needs only the plan's file list."""
    files = sorted(i.path for i in plan.intents)
    if plan.sync_tool == "flux":
        return [RenderedObject("kustomization.yaml", render_template("flux/kustomization.yaml.j2", {"resources": files}), False, False)]
    secret_files = sorted(i.path for i in plan.intents if i.secret)
    plain = [f for f in files if f not in set(secret_files)]
    out = []
    if secret_files:
        out.append(RenderedObject(KSOPS_FILE, render_template("argocd/ksops-generator.yaml.j2", {"files": [f"./{f}" for f in secret_files]}), False, False))
    kustomization = render_template(
        "argocd/kustomization.yaml.j2",
        {"resources": plain, "generator": KSOPS_FILE if secret_files else ""},
    )
    return out + [RenderedObject("kustomization.yaml", kustomization, False, False)]
