"""Mistakes that both checkers must reject, one per marked line."""

from __future__ import annotations

from anysignal import Signal, typed_signal


class App:
    pass


class User:
    pass


@typed_signal
def user_logged_in(sender: App, /, *, user: User) -> str:
    """Sent after a user logs in."""
    raise NotImplementedError


# Sends that do not match the payload.
user_logged_in.send(App(), user="ada")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
user_logged_in.send("app", user=User())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
user_logged_in.send(App())  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
user_logged_in.send(App(), user=User(), extra=1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


async def sends_async() -> None:
    await user_logged_in.send_async(App(), user=None)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# Receivers that do not accept the payload, or return something else.
def wrong_keyword_type(sender: App, /, *, user: int) -> str:
    return ""


def wrong_return(sender: App, /, *, user: User) -> int:
    return 0


def missing_keyword(sender: App, /) -> str:
    return ""


user_logged_in.connect(wrong_keyword_type)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
user_logged_in.connect(wrong_return)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
user_logged_in.connect(missing_keyword)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

# Results have the receivers' return type.
for _, greeting in user_logged_in.send(App(), user=User()):
    length: int = greeting  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]

# The send options are typed parameters of a plain signal's send methods.
plain = Signal()
plain.send(1, _async_wrapper="not a wrapper")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
plain.send_robust(1, _raise_group="yes")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
