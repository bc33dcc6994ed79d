"""The ``signals`` command of the ``flask`` and ``quart`` command lines.

Registered through the ``flask.commands`` and ``quart.commands`` entry points,
so that ``flask signals`` and ``quart signals`` work in any project that has
anysignal installed with either framework. It lists every signal of every
:class:`~anysignal.Namespace` that exists once the app is loaded (the app's
import imports its extensions), the neutral built-in signals of
:mod:`anysignal.framework` included, with each signal's receivers in the order
a send by the app calls them. See :doc:`/introspection`.

Needs :mod:`click`, which both frameworks install. :mod:`anysignal` itself
never imports this module.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing as t
from pathlib import Path

import click

from . import framework
from .introspection import SignalInfo, describe_namespace, namespaces

if t.TYPE_CHECKING:
    from ._namespace import Namespace
    from .introspection import ReceiverInfo

__all__ = ["signals_command"]

_COLUMNS = ("#", "receiver", "kind", "held", "priority", "senders", "defined at")


@click.command("signals")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for machines.")
@click.pass_context
def signals_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List anysignal signals and their receivers, in call order for the app.

    Every signal of every anysignal namespace imported by the app, and the
    neutral built-in signals. Give a signal's NAME to list only that signal.
    """
    app = ctx.obj.load_app()  # Flask's or Quart's ScriptInfo
    listings = [
        (label, tuple(info for info in infos if name is None or info.name == name))
        for label, infos in _listings(app)
    ]
    listings = [(label, infos) for label, infos in listings if infos]
    if not listings:
        command = ctx.command_path.rpartition(" ")[0] or "flask"
        msg = (
            f"no anysignal signal is named {name!r}. "
            f"Run '{command} signals' to list them all."
        )
        raise click.UsageError(msg, ctx)
    if as_json:
        click.echo(json.dumps(_as_json(app, listings), indent=2))
    else:
        click.echo(_as_text(app, listings), nl=False)


def _listings(app: object) -> list[tuple[str, tuple[SignalInfo, ...]]]:
    """Describe every non-empty namespace's signals for ``app``, labelled."""
    found = [framework.signals] + [
        ns for ns in namespaces() if ns is not framework.signals and ns
    ]
    labels = _labels(found)
    return [(labels[id(ns)], describe_namespace(ns, app)) for ns in found]


def _labels(found: list[Namespace]) -> dict[int, str]:
    """Name each namespace by a module global that holds it: ``myext.signals``.

    The public spelling wins, then the shortest: ``anysignal.default_namespace``,
    not ``anysignal._namespace.default_namespace``.
    """
    candidates: dict[int, list[str]] = {id(ns): [] for ns in found}
    for module_name, module in list(sys.modules.items()):
        for attribute, value in list(getattr(module, "__dict__", {}).items()):
            if id(value) in candidates:  # ``found`` keeps them alive: ids are theirs
                candidates[id(value)].append(f"{module_name}.{attribute}")
    return {
        key: min(paths, key=lambda path: ("._" in f".{path}", len(path), path))
        if paths
        else f"<Namespace at {key:#x}>"
        for key, paths in candidates.items()
    }


def _location(info: ReceiverInfo) -> str:
    if info.file is None:
        return "(built-in)"
    return f"{_short_path(info.file)}:{info.line}"


def _short_path(file: str) -> str:
    """Show ``file`` relative to the ``sys.path`` entry it was imported from."""
    path = Path(file)
    best: Path | None = None
    for entry in sys.path:
        root = Path(entry or ".").resolve()
        if path.is_relative_to(root) and (
            best is None or len(root.parts) > len(best.parts)
        ):
            best = root
    return file if best is None else path.relative_to(best).as_posix()


def _as_text(app: object, listings: list[tuple[str, tuple[SignalInfo, ...]]]) -> str:
    lines = [f"Receivers in call order for {app!r}:"]
    for label, infos in listings:
        lines += ["", label]
        for info in infos:
            muted = " (muted)" if info.muted else ""
            if not info.receivers:
                lines.append(f"  {info.name}{muted}: no receivers")
                continue
            lines.append(f"  {info.name}{muted}")
            rows = [_COLUMNS] + [
                (
                    str(number),
                    receiver.name,
                    receiver.kind,
                    "weak" if receiver.weak else "strong",
                    str(receiver.priority),
                    ", ".join(receiver.senders),
                    _location(receiver),
                )
                for number, receiver in enumerate(info.receivers, 1)
            ]
            widths = [max(len(row[column]) for row in rows) for column in range(7)]
            lines += [
                "    "
                + "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
                for row in rows
            ]
    return "\n".join(lines) + "\n"


def _as_json(
    app: object, listings: list[tuple[str, tuple[SignalInfo, ...]]]
) -> dict[str, t.Any]:
    return {
        "sender": repr(app),
        "namespaces": [
            {
                "namespace": label,
                "signals": [dataclasses.asdict(info) for info in infos],
            }
            for label, infos in listings
        ],
    }
