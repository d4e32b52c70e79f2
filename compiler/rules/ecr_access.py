"""ECR tokens come from External Secrets, so a cluster that gets them must run it.

ECR user-auth pull secrets and Flux chart credentials, and every ECR chart
repository on Argo CD (which has no AWS identity of its own), are produced by
an ExternalSecret with the ECRAuthorizationToken generator.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..naming import is_ecr_user_auth, pulls_with_own_secret
from ..problems import Problem

RULE = "ecr-external-secrets"


def check(config) -> Iterator[Problem]:
    for index, loc in enumerate(config.registries):
        reg = loc.model
        if reg.provider != "ecr" or not reg.is_private or reg.auth is None:
            continue
        for cl in config.clusters:
            cluster = cl.model
            if cluster.externalSecrets or cluster.name not in config.available[index]:
                continue
            why = None
            if pulls_with_own_secret(reg):
                why = "its pull Secret comes from an ECR token that External Secrets refreshes"
            elif reg.useAsChartRepository and (cluster.syncTool == "argocd" or is_ecr_user_auth(reg)):
                why = f"its chart repositories on {cluster.syncTool} need an ECR token that External Secrets refreshes"
            if why:
                line, _ = cl.doc.where(cl.path + ("name",))
                yield loc.problem(
                    ("credentialAccess",),
                    f"ECR registry '{reg.name}' reaches cluster '{cluster.name}' ({cl.doc.file}:{line}), which has no "
                    f"External Secrets Operator; {why}. Set externalSecrets: true on '{cluster.name}' (and install the "
                    f"operator there) or leave the cluster out of credentialAccess",
                    rule=RULE,
                    key=True,
                )
