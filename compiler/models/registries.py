"""Model of `kind: Registries` files (SPEC 1.1)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..records import CredentialAccessBehaviour, RegistryBehaviour
from .common import DNS1123_LABEL, ApiVersion, Optional, SopsBlock, Strict, Subdomain

Provider = Literal["ecr", "docker", "azure", "artifact-registry", "gcr", "quay", "other"]
PROVIDERS: tuple[str, ...] = Provider.__args__  # type: ignore[attr-defined]

SECRET = "Secret: must be a SOPS-encrypted ENC[...] value in the file."


class Auth(Strict):
    """Credentials. Which fields apply depends on the provider (see each field)."""

    method: Literal["user-auth", "iam-role"] | Optional = Field(
        None,
        description="ecr only: user-auth (accessKeyId + secretAccessKey, tokens via External Secrets) "
        "or iam-role (nodes and Flux pull with their AWS role; no credentials).",
    )
    username: str | Optional = Field(
        None,
        description="docker, azure (service principal id), quay, other: the user name. May be plaintext.",
    )
    password: str | Optional = Field(
        None, description=f"docker (password or access token), azure, other: the password. {SECRET}"
    )
    token: str | Optional = Field(None, description=f"quay: the robot account token. {SECRET}")
    serviceAccountKey: str | Optional = Field(
        None,
        description="artifact-registry, gcr: the service-account JSON key file's content, any whitespace. "
        + SECRET,
    )
    accessKeyId: str | Optional = Field(None, description=f"ecr user-auth: the AWS access key id. {SECRET}")
    secretAccessKey: str | Optional = Field(None, description=f"ecr user-auth: the AWS secret access key. {SECRET}")


from ..providers import SECRET_AUTH_FIELDS as SECRET_AUTH_FIELDS  # noqa: E402  (re-exported)


class CredentialAccess(CredentialAccessBehaviour, Strict):
    """Which clusters this registry is made available to."""

    mode: Literal["auto-inject", "do-not-inject"] = Field(
        description="auto-inject: only the listed clusters; do-not-inject: every cluster except the listed ones."
    )
    clusters: list[str] = Field(
        [],
        description='Cluster names or shell-style globs ("prod-*"); "*" is every cluster.',
    )
    source: Literal["registry-credentials", "image-pull-secret"] = Field(
        "registry-credentials",
        description="registry-credentials: regops renders a pull Secret from auth; "
        "image-pull-secret: Secrets that already exist in the namespaces are used.",
    )
    imagePullSecret: Subdomain | list[Subdomain] | Optional = Field(
        None,
        description="With source image-pull-secret: name, or list of names, of existing Secrets "
        "added to the ServiceAccounts.",
    )



class Registry(RegistryBehaviour, Strict):
    """A container or OCI registry."""

    name: Annotated[str, Field(pattern=DNS1123_LABEL, max_length=50)] = Field(
        description="Unique across all registries files; a DNS-1123 label of at most 50 characters. "
        "Generated object names derive from it."
    )
    provider: Provider = Field(description="ecr | docker | azure | artifact-registry | gcr | quay | other")
    url: str | Optional = Field(
        None,
        description="host[:port], no scheme and no path. ecr: <account>.dkr.ecr.<region>.amazonaws.com; "
        "docker: docker.io (default); azure: <name>.azurecr.io; artifact-registry: <region>-docker.pkg.dev; "
        "gcr: gcr.io, us.gcr.io, eu.gcr.io or asia.gcr.io; quay: quay.io (default) or a self-hosted host.",
    )
    type: Literal["private", "public"] = Field("private", description="private (default) or public.")
    auth: Auth | Optional = Field(None, description="Credentials of a private registry (see the provider's fields).")
    pushContainerImages: bool = Field(True, description="CI may push container images here.")
    pushHelmPackages: bool = Field(False, description="CI may push Helm charts here.")
    useAsChartRepository: bool = Field(
        False, description="Render chart-repository objects for Flux or Argo CD; needs chartRepositories."
    )
    chartRepositories: list[str] = Field(
        [],
        description="Repository paths under the registry holding Helm charts (e.g. acme/charts). "
        "Required and non-empty when useAsChartRepository is true.",
    )
    default: bool = Field(False, description="The default registry; at most one in the whole config.")
    credentialAccess: CredentialAccess | Optional = Field(
        None, description="Which clusters receive access. Without it the registry is available nowhere."
    )
    connection: Literal["secure", "secure-with-ca", "insecure"] | Optional = Field(
        None,
        description="provider other only: secure (default), secure-with-ca (needs caCertificate) or insecure.",
    )
    caCertificate: str | Optional = Field(
        None, description="provider other with connection secure-with-ca only: PEM, one or more certificates."
    )



class RegistriesFile(Strict):
    """A registries file: registries.yaml or registries/*.yaml."""

    apiVersion: ApiVersion
    kind: Literal["Registries"] = Field(description="Always Registries.")
    registries: list[Registry] = Field(description="The registries of this file.")
    sops: SopsBlock | Optional = None
