"""AWS's rules for the names we pass on: EC2 tag keys and values, IAM role names.

EC2 API reference, ``Tag``: keys are 1-128 characters and may not start with ``aws:``;
values are 0-256 characters; both may hold Unicode letters, digits, spaces and ``_ . : / = + - @``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Tag.html). Whole strings: a newline
or any other control character never passes. IAM API reference, ``Role``: a role name is 1-64
characters of ASCII letters, digits and ``+ = , . @ _ -``
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
Each function returns why a value is invalid, or None.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_ROLE_NAME: Final = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")

_PUNCTUATION: Final = frozenset("_.:/=+-@")
_ALLOWED: Final = "Unicode letters, digits, spaces and _ . : / = + - @"


def _allowed(character: str) -> bool:
    return (
        character.isalnum() or character in _PUNCTUATION or unicodedata.category(character) == "Zs"
    )


def tag_key_error(key: object) -> str | None:
    """Why ``key`` is not a valid EC2 tag key, or None."""
    if not isinstance(key, str):
        return "EC2 tag keys are strings"
    if not 1 <= len(key) <= 128 or key.lower().startswith("aws:") or not all(map(_allowed, key)):
        return f"an EC2 tag key has 1-128 characters ({_ALLOWED}) and does not start with aws:"
    return None


def tag_value_error(value: object, *, allow_empty: bool = True) -> str | None:
    """Why ``value`` is not a valid EC2 tag value, or None."""
    shortest = 0 if allow_empty else 1
    if not isinstance(value, str):
        return "EC2 tag values are strings"
    if not shortest <= len(value) <= 256 or not all(map(_allowed, value)):
        return f"an EC2 tag value has {shortest}-256 characters ({_ALLOWED})"
    return None


def iam_role_name_error(name: object) -> str | None:
    """Why ``name`` is not an IAM role name (a name, not an ARN or path), or None."""
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
        return "an IAM role name has 1-64 letters, digits and + = , . @ _ - (no ARN, no path)"
    return None


def is_cdk_token(value: object) -> bool:
    """Whether ``value`` is an unresolved AWS CDK token (resolved only at deploy time).

    aws-cdk-lib is imported only for a string that looks like one, so the plain-YAML path
    never loads it.
    """
    if not isinstance(value, str) or "${Token[" not in value:
        return False
    from aws_cdk import Token

    return bool(Token.is_unresolved(value))


#: A CDK string token as it appears inside a string (``${Token[NAME.123]}``).
_TOKEN: Final = re.compile(r"\$\{Token\[[^\]]*\]\}")


def token_literal_error(value: str) -> str | None:
    """Why the text around the CDK tokens in ``value`` cannot be part of a name, tag or role
    (whitespace or a control character), or None. The tokens themselves resolve at deploy
    time and are checked by CloudFormation then."""
    literal = _TOKEN.sub("", value)
    if any(c.isspace() or not c.isprintable() for c in literal):
        return "the text around the CDK token holds whitespace or a control character"
    return None
