"""Secrets in URLs: one parser, rendered masked (to show or log) or without the secret (to store).

Every URL assay prints, logs or stores goes through :func:`masked` (``user:***@host``, secret query
values ``***``) or :func:`without_password` (the secret dropped, for catalog rows);
:func:`has_secret` is the declarations' check and :func:`scrub` the net under free text (driver
messages, YAML errors, argv) that may quote a URL. Standard library only: the CLI and ``ops``
import it without SQLAlchemy.

The parser reads text, not a SQLAlchemy ``URL``, because a password typed raw may hold ``/``,
``#``, ``?``, ``@`` or ``:`` and then no URL grammar splits it the way the user meant. Where the
text is ambiguous it hides more, never less: the credentials run from the first ``:`` after the
user name to the *last* ``@`` that a host can follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

#: Shown instead of anything that does not look like a URL (it may still hold a secret).
PLACEHOLDER = "<unparsable database URL>"
#: Shown instead of a secret.
HIDDEN = "***"
#: Secrets shorter than this are not searched for in free text (they would shred the message).
MIN_SCRUB_LEN = 3

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# What may follow the credentials' '@': a host name, IPv4 or [IPv6] (or nothing: a socket in the
# query), an optional port, then the end of the authority (',' separates libpq's hosts).
_HOST_AFTER = re.compile(r"(?:\[[^\]/?#@]*\]|[A-Za-z0-9._~%\-]*)(?::\d*)?(?=[/?#,]|$)")
# A key=value pair in a query string (``?a=1&b=2``) or a libpq keyword DSN (``host=h password=x``).
# A secret value runs to the next pair, so a raw '&', '#' or space inside it stays hidden.
_PAIR = re.compile(r"(?P<sep>^|[?&;\s])(?P<key>[^=&;?#\s/]+)=(?P<value>.*?)(?=[&;\s][^=&;?#\s/]+=|$)", re.S)
_SECRET_KEY = re.compile(
    r"password|passwd|passphrase|^pass$|^pwd$|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credential|signature|^sig$",
    re.I,
)
# A URL inside free text: from its scheme to the next quote, bracket or white space.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


@dataclass(frozen=True)
class _Parts:
    scheme: str  # "postgresql+psycopg2://"
    user: str | None  # None: no credentials before the host
    password: str | None  # raw, as typed (None: no ':' in the credentials)
    rest: str  # host, port, path and query after the credentials


def _split(url: str) -> _Parts | None:
    """The URL cut around its credentials; None when it has no ``scheme://``."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    body = url[scheme.end():]
    ats = [i for i, c in enumerate(body) if c == "@"]
    if not ats:
        return _Parts(scheme.group(), None, None, body)
    at = next((i for i in reversed(ats) if _HOST_AFTER.match(body, i + 1)), ats[-1])
    user, colon, password = body[:at].partition(":")
    return _Parts(scheme.group(), user, password if colon else None, body[at + 1:])


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(unquote_plus(key)))


def _mask_pairs(text: str) -> str:
    return _PAIR.sub(
        lambda m: f"{m['sep']}{m['key']}={HIDDEN}" if _is_secret_key(m["key"]) else m.group(), text
    )


def _drop_pairs(text: str) -> str:
    out = _PAIR.sub(lambda m: ("?" if m["sep"] == "?" else "") if _is_secret_key(m["key"]) else m.group(), text)
    out = re.sub(r"\?[&;]+", "?", out)
    return out[:-1] if out.endswith("?") else out.strip()


def masked(url: object) -> str:
    """The URL as safe to show or log: password and secret query values replaced by ``***``.

    Never raises: anything without ``scheme://`` (or not a string) gives :data:`PLACEHOLDER`.
    """
    if not isinstance(url, str):
        return PLACEHOLDER
    parts = _split(url)
    if parts is None:
        return PLACEHOLDER
    creds = ""
    if parts.user is not None:
        creds = f"{parts.user}:{HIDDEN}@" if parts.password is not None else f"{parts.user}@"
    return _mask_pairs(f"{parts.scheme}{creds}{parts.rest}")


def without_password(url: str) -> str:
    """The URL with its password and secret query parameters removed, as the catalog stores it.

    Anything that is not a URL (an Airflow connection id, a file path) is returned unchanged,
    except for ``password=``-like pairs, which are dropped too.
    """
    parts = _split(url)
    if parts is None:
        return _drop_pairs(url)
    creds = f"{parts.user}@" if parts.user else ""
    return _drop_pairs(f"{parts.scheme}{creds}{parts.rest}")


def has_secret(url: str) -> bool:
    """Whether the text carries a password (``user:password@``) or a secret parameter (``?password=``)."""
    parts = _split(url)
    if parts is not None and parts.password:
        return True
    return any(_is_secret_key(m["key"]) for m in _PAIR.finditer(url))


def secrets_of(url: str) -> list[str]:
    """The secret values a URL carries, as typed and percent-decoded (longest first)."""
    found: set[str] = set()
    parts = _split(url)
    if parts is not None and parts.password:
        found.add(parts.password)
    found.update(m["value"] for m in _PAIR.finditer(url) if _is_secret_key(m["key"]) and m["value"])
    for value in list(found):
        found.update({unquote(value), unquote_plus(value)})
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, *urls: str) -> str:
    """Free text (a driver's message, a YAML error, a command line) safe to show, log or store.

    Every URL in the text is :func:`masked`; the secrets of ``urls`` are replaced wherever they
    appear, raw or percent-decoded (a driver may echo a password or a host cut out of one).
    """
    found = {s for url in urls for s in secrets_of(url)}
    # A raw '@', ':', '/', '&' or space in a secret makes a parser cut it there and call the rest a
    # host, a port or an option, which drivers then quote: hide the pieces too.
    found.update(piece for s in list(found) for piece in re.split(r"[@:/?#&;=\s]", s))
    for secret in sorted(found, key=len, reverse=True):
        if len(secret) >= MIN_SCRUB_LEN:
            text = text.replace(secret, HIDDEN)
    text = _URL_IN_TEXT.sub(lambda m: masked(m.group()), text)
    return _mask_pairs(text) if _PAIR.search(text) else text


def urls_of(settings: object) -> list[str]:
    """Every URL a settings object holds (a pydantic model's string fields with ``://``).

    The secrets to :func:`scrub` from a message raised while one of them was parsed or used.
    """
    dump = getattr(settings, "model_dump", None)
    values = dump().values() if callable(dump) else vars(settings).values()
    return [v for v in values if isinstance(v, str) and "://" in v]


__all__ = ["HIDDEN", "PLACEHOLDER", "has_secret", "masked", "scrub", "secrets_of", "urls_of", "without_password"]
