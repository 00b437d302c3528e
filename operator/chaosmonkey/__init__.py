"""Chaos Monkey operator: the Chaos Monkey Engine's planners, attacks and drivers, run by Kubernetes."""

from importlib import metadata

try:
    __version__ = metadata.version("chaosmonkey-operator")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
