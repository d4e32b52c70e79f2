"""Each cluster has at least one recipient, and each age recipient is a well-formed age1 key."""

from __future__ import annotations

from collections.abc import Iterator

from ..age import check_recipient
from ..problems import Problem

RULE = "recipients"


def check(config) -> Iterator[Problem]:
    for loc in config.clusters:
        age = loc.model.recipients.age
        if not age:
            yield loc.problem(("recipients",), f"cluster '{loc.model.name}' has no recipients; its Secrets could not be decrypted by anyone (add recipients.age)", rule=RULE)
        for i, recipient in enumerate(age):
            why = check_recipient(recipient)
            if why:
                # A secret key pasted here must not be echoed.
                shown = "this value" if "secret" in why.lower() else f"'{recipient[:12]}...'"
                yield loc.problem(("recipients", "age", i), f"age recipient {shown} {why}", rule=RULE)
