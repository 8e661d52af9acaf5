"""Registry aliases: which registered version is champion, previous and challenger.

Registry stages are deprecated in MLflow, so deployment state is aliases only. Promotion keeps
the replaced champion as `previous` (and remembers it on the new champion's version), so a
rollback is two alias moves: `champion` back to `previous`, and `previous` one step further back.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous", "challenger"
TAG_PREVIOUS_CHAMPION = "deployment.previous_champion"
TAG_ROLLED_BACK = "deployment.rolled_back"


class RollbackError(RuntimeError):
    """There is nothing to roll back to."""


def alias_version(client: MlflowClient, name: str, alias: str) -> int | None:
    """The version an alias points to, None when the alias (or the model) does not exist."""
    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def alias_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


@dataclass(frozen=True)
class AliasMove:
    """Aliases after a promotion or rollback, and the version `champion` pointed to before."""

    champion: int
    previous: int | None
    replaced: int | None
    moved: bool


def append_version_description(client: MlflowClient, name: str, version: int, line: str) -> None:
    """Add a paragraph to a version's description (its history: registration, gate, deployment)."""
    current = client.get_model_version(name, str(version)).description or ""
    text = f"{current}\n\n{line}" if current else line
    client.update_model_version(name, str(version), description=text)


def set_challenger(client: MlflowClient, name: str, version: int) -> None:
    """Point `challenger` at a version that passed the gate and awaits deployment."""
    client.set_registered_model_alias(name, CHALLENGER, str(version))


def promote(client: MlflowClient, name: str, version: int) -> AliasMove:
    """Make `version` the champion; the replaced champion becomes `previous`."""
    current = alias_version(client, name, CHAMPION)
    if current == version:
        return AliasMove(version, alias_version(client, name, PREVIOUS), current, moved=False)
    if current is not None:
        client.set_registered_model_alias(name, PREVIOUS, str(current))
        client.set_model_version_tag(name, str(version), TAG_PREVIOUS_CHAMPION, str(current))
    client.set_registered_model_alias(name, CHAMPION, str(version))
    if alias_version(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    return AliasMove(version, alias_version(client, name, PREVIOUS), current, moved=True)


def rollback(client: MlflowClient, name: str) -> AliasMove:
    """Move `champion` back to `previous`; `previous` moves to the champion before that."""
    current = alias_version(client, name, CHAMPION)
    target = alias_version(client, name, PREVIOUS)
    if target is None:
        msg = f"{name}: no previous champion to roll back to (champion is {current})"
        raise RollbackError(msg)
    client.set_registered_model_alias(name, CHAMPION, str(target))
    if current is not None:
        client.set_model_version_tag(name, str(current), TAG_ROLLED_BACK, "true")
    earlier = client.get_model_version(name, str(target)).tags.get(TAG_PREVIOUS_CHAMPION)
    if earlier and int(earlier) != current:
        client.set_registered_model_alias(name, PREVIOUS, earlier)
    else:
        client.delete_registered_model_alias(name, PREVIOUS)
    return AliasMove(target, alias_version(client, name, PREVIOUS), current, moved=True)
