"""Pydantic models of regops' input files; the JSON Schemas are generated from them."""

from .clusters import Cluster, ClustersFile, Recipients
from .common import API_VERSION
from .registries import PROVIDERS, SECRET_AUTH_FIELDS, Auth, CredentialAccess, RegistriesFile, Registry
from .settings import DEFAULT_SETTINGS, SettingsFile

MODELS = {"Registries": RegistriesFile, "Clusters": ClustersFile, "Settings": SettingsFile}

__all__ = [
    "API_VERSION",
    "PROVIDERS",
    "SECRET_AUTH_FIELDS",
    "Auth",
    "Cluster",
    "ClustersFile",
    "CredentialAccess",
    "DEFAULT_SETTINGS",
    "MODELS",
    "Recipients",
    "RegistriesFile",
    "Registry",
    "SettingsFile",
]
