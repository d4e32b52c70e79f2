"""Grammars of names and durations, shared by the models, the schema reporter and the rules."""

# Kubernetes' own grammars (apimachinery validation).
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Go's time.ParseDuration, restricted to what Flux and ESO intervals use.
GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"

# A prefix that can start a DNS-1123 subdomain: may end in '-' or '.'.
NAME_PREFIX = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*[-.]?$"

# Human wording for pattern failures, keyed by pattern (used by the schema reporter).
PATTERN_HINTS = {
    DNS1123_LABEL: "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
    DNS1123_SUBDOMAIN: "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
    GO_DURATION: "a duration such as 30s, 10m, 1h or 1h30m",
    NAME_PREFIX: "a Kubernetes name prefix: lowercase letters, digits, '-' and '.', no '..', ending in a letter, digit, '-' or '.'",
}
