"""Amazon ECR: account and region come from the host; tokens expire, so no static secret."""

from __future__ import annotations

import dataclasses
import re

from .base import AuthShape, Provider

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
HOST_RE = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?P<fips>-fips)?\.(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9])"
    r"\.amazonaws\.com(?P<cn>\.cn)?$"
)


@dataclasses.dataclass(frozen=True)
class EcrHost:
    account: str
    region: str
    fips: bool

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"


def parse_host(host: str) -> EcrHost | None:
    m = HOST_RE.match(host)
    if not m:
        return None
    region = m.group("region")
    # China regions live under amazonaws.com.cn, and only they do.
    if region.startswith("cn-") != bool(m.group("cn")):
        return None
    return EcrHost(m.group("account"), region, bool(m.group("fips")))


class Ecr(Provider):
    name = "ecr"
    url_form = "<12-digit account>.dkr.ecr.<region>.amazonaws.com (.amazonaws.com.cn for cn-* regions)"

    def auth_shape(self, method: str | None) -> AuthShape:
        if method == "iam-role":
            return AuthShape(required=("method",), secret=())
        return AuthShape(required=("method", "accessKeyId", "secretAccessKey"), secret=("accessKeyId", "secretAccessKey"))

    def check_host(self, host: str) -> str | None:
        if parse_host(host) is None:
            return f"ECR url must be {self.url_form}"
        return None

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        raise ValueError("ECR has no static credentials: tokens come from External Secrets")
