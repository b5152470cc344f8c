"""A container for the API key that never shows its value by accident."""

from __future__ import annotations

from typing import Final

_MASK: Final = "********"


class ApiKey:
    """Holds the API key; ``str``/``repr``/format all show a mask.

    Textual's crash screen prints the locals of every frame, and exceptions end up in
    logs: a plain ``str`` local would leak the key there. Only :meth:`reveal` gives the
    value, and only the HTTP client calls it, to build the ``Authorization`` header.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the real key (for the Authorization header only)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("ApiKey", self._value))

    def __repr__(self) -> str:
        return f"ApiKey({_MASK})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ApiKey cannot be pickled")

    # copy/deepcopy (and so dataclasses.asdict/replace on a config holding a key) go through
    # __reduce__ otherwise and would fail; the key is immutable, so a copy is the same object.
    def __copy__(self) -> ApiKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> ApiKey:
        return self

    def scrub(self, text: str) -> str:
        """Replace any occurrence of the key in ``text`` with the mask."""
        if self._value and self._value in text:
            return text.replace(self._value, _MASK)
        return text
