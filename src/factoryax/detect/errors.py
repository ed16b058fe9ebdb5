"""Errors of :mod:`factoryax.detect`, under the project's tree::

FactoryAXError
└── DetectError                       a detection task cannot do what was asked
    ├── DetectConfigError (ValueError) a detector or model parameter is wrong
    ├── NotFittedError (ValueError)    a model is used before it learned anything
    ├── ModelNotFoundError (KeyError)  no such model or version in the registry
    └── ModelFileError (ValueError)    a registry file is damaged or not ours
"""

from __future__ import annotations

from factoryax.core import FactoryAXError

__all__ = [
    "DetectConfigError",
    "DetectError",
    "ModelFileError",
    "ModelNotFoundError",
    "NotFittedError",
]


class DetectError(FactoryAXError):
    """A detection, training or validation task cannot do what was asked."""


class DetectConfigError(DetectError, ValueError):
    """A detector, model or gate parameter is out of range."""


class NotFittedError(DetectError, ValueError):
    """A model was asked to score or predict before it learned anything."""


class ModelNotFoundError(DetectError, KeyError):
    """The registry holds no model (or version) by that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelFileError(DetectError, ValueError):
    """A file in the registry is damaged, of another format, or not one we wrote."""
