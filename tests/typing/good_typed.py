"""Correct uses of typed signals: both checkers accept every line."""

from __future__ import annotations

from typing import assert_type

from anysignal import Namespace, Signal, typed_signal


class App:
    name = "app"


class User:
    name = "ada"


@typed_signal
def user_logged_in(sender: App, /, *, user: User) -> str:
    """Sent after a user logs in; receivers return a greeting."""
    raise NotImplementedError


@user_logged_in.connect
def greet(sender: App, /, *, user: User) -> str:
    return f"hello {user.name}"


@user_logged_in.connect
async def greet_later(sender: App, /, *, user: User) -> str:
    return f"hello again {user.name}"


def greet_anyone(sender: object, /, **kwargs: object) -> str:
    return "hello"


user_logged_in.connect(greet_anyone)  # a wider receiver is fine
user_logged_in.connect_via(App(), priority=1)(greet)

for _receiver, greeting in user_logged_in.send(App(), user=User()):
    assert_type(greeting, str)


async def main() -> None:
    for _, greeting in await user_logged_in.send_async(App(), user=User()):
        assert_type(greeting, str)
    for _, outcome in await user_logged_in.send_async_robust(App(), user=User()):
        assert_type(outcome, str | Exception)
    await user_logged_in.send_concurrent(App(), user=User())


ns = Namespace()


@ns.typed_signal
def record_saved(sender: object, /, *, record_id: int) -> None:
    """Sent after a record is saved."""


record_saved.send("app", record_id=7)


# Untyped signals keep accepting anything.
plain = Signal()
plain.connect(greet_anyone)
plain.send(1, anything="goes", _async_wrapper=None)
named = ns.signal("untyped")
named.send(object(), whatever=[1, 2])
