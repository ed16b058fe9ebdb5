"""The whole FactoryAX error tree.

Every failure that FactoryAX raises on purpose is a :class:`FactoryAXError`; each kind also
inherits the builtin it resembles so that callers' ``except ValueError`` keeps working::

    FactoryAXError
    ├── ConfigError (ValueError)           a setting or a config file is wrong
    │   └── PlantModelError                plant.toml does not validate
    ├── WorkspaceError (FileNotFoundError) no workspace where one was expected
    ├── LakeError                          the lake cannot do what was asked
    │   ├── SchemaError (ValueError)       rows do not fit a table's schema
    │   └── QueryError (ValueError)        SQL over the lake failed
    ├── IngestError                        a source could not be read at all
    │   └── MappingError (ValueError)      columns cannot be mapped to the plant model
    └── BrokerError (ConnectionError)      a message broker (MQTT) cannot be reached

A message says what was wrong, shows the value with ``!r``, what was expected and what to
do; the context (file, row, asset, signal) is also kept on attributes for programs.
"""

from __future__ import annotations

from pathlib import Path


class FactoryAXError(Exception):
    """Root of every error FactoryAX raises on purpose."""


class ConfigError(FactoryAXError, ValueError):
    """A setting, option or configuration file is wrong."""


class PlantModelError(ConfigError):
    """The plant model (``plant.toml``) does not validate.

    Attributes:
        path: the file that failed, when it came from a file.
        problems: one line per problem, each naming the key, the value and the fix.
    """

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        where = str(path) if path else "plant model"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where}: {len(problems)} problem(s)\n{lines}")


class WorkspaceError(FactoryAXError, FileNotFoundError):
    """No FactoryAX workspace (a folder holding ``plant.toml``) was found."""


class LakeError(FactoryAXError):
    """The lake cannot do what was asked."""


class SchemaError(LakeError, ValueError):
    """Rows handed to the lake do not fit the table's schema."""


class QueryError(LakeError, ValueError):
    """SQL over the lake failed; the message carries DuckDB's explanation."""


class IngestError(FactoryAXError):
    """A source could not be read at all (rows that fail go to quarantine instead).

    Attributes:
        source: the file or stream that failed.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(message)


class MappingError(IngestError, ValueError):
    """The columns of a source cannot be mapped to the plant model."""


class BrokerError(FactoryAXError, ConnectionError):
    """A message broker (MQTT) cannot be reached or refused the connection."""
