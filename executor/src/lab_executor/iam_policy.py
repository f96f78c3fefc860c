"""AWS's evaluation of identity-based policies, for one principal in one account:
an explicit Deny wins, otherwise an Allow is needed, otherwise the request is
implicitly denied (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

Pure Python, no LocalStack: ``iam_enforcement`` feeds it the role's policies
and the request's action, resource and context keys.

Why not moto's evaluator (moto.iam.access_control, in LocalStack's venv): it
turns an Allow whose condition does not match into a Deny, ignores
NotResource, matches actions case-sensitively and reads ``.`` and ``?`` in a
pattern as regular-expression syntax. Each of those changes a decision the
lab's lessons show, and the decision table in tests/unit/test_iam_policy.py
pins them to AWS's documented behaviour.
"""

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicit deny", "implicit deny"


@dataclass(frozen=True)
class Decision:
    outcome: str  # ALLOWED, EXPLICIT_DENY or IMPLICIT_DENY
    statement: str = ""  # the Sid (or the position) of the statement that decided, when one did

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOWED


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern:
    # IAM's wildcards: * any run of characters (":" and "/" included), ? one
    # character; everything else literal (fnmatch would read [...] as a set).
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(f"{regex}\\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _matches(patterns, value: str, ignore_case: bool) -> bool:
    return any(_pattern(pattern, ignore_case).match(value) for pattern in _as_list(patterns))


def _applies(statement: dict, action: str, resource: str) -> bool:
    if "NotAction" in statement:
        action_ok = not _matches(statement["NotAction"], action, ignore_case=True)
    else:
        action_ok = _matches(statement.get("Action", []), action, ignore_case=True)
    if "NotResource" in statement:
        resource_ok = not _matches(statement["NotResource"], resource, ignore_case=False)
    else:
        resource_ok = _matches(statement.get("Resource", []), resource, ignore_case=False)
    return action_ok and resource_ok


def _string_like(pattern: str, value: str) -> bool:
    return bool(_pattern(pattern, False).match(value))


def _ip_in(network: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _bool(wanted: str, value: str) -> bool:
    return wanted.lower() == value.lower()


def _numeric(compare):
    def check(wanted: str, value: str) -> bool:
        try:
            return compare(float(value), float(wanted))
        except ValueError:
            return False

    return check


# Operator -> (does a value match one wanted value, is the operator negated).
OPERATORS = {
    "StringEquals": (lambda wanted, value: wanted == value, False),
    "StringNotEquals": (lambda wanted, value: wanted == value, True),
    "StringEqualsIgnoreCase": (lambda wanted, value: wanted.lower() == value.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda wanted, value: wanted.lower() == value.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (lambda wanted, value: wanted == value, False),
    "ArnNotEquals": (lambda wanted, value: wanted == value, True),
    "ArnLike": (_string_like, False),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "NumericEquals": (_numeric(lambda value, wanted: value == wanted), False),
    "NumericNotEquals": (_numeric(lambda value, wanted: value == wanted), True),
    "NumericLessThan": (_numeric(lambda value, wanted: value < wanted), False),
    "NumericLessThanEquals": (_numeric(lambda value, wanted: value <= wanted), False),
    "NumericGreaterThan": (_numeric(lambda value, wanted: value > wanted), False),
    "NumericGreaterThanEquals": (_numeric(lambda value, wanted: value >= wanted), False),
}


def _condition_holds(operator: str, key: str, wanted, context: dict) -> bool:
    """One key of one operator. A key absent from the request matches no
    positive operator and every negated one; ``...IfExists`` holds when absent;
    ``Null`` tests presence. Several wanted values: any one will do (for a
    negated operator: none may match)."""
    present = {name.lower(): value for name, value in context.items()}
    value = present.get(key.lower())
    if operator == "Null":
        return _bool(str(_as_list(wanted)[0]), "true" if value is None else "false")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in OPERATORS:
        return False  # an operator the lab does not know never grants (and a Deny with one never denies)
    match, negated = OPERATORS[base]
    if value is None:
        return if_exists or negated
    values = [str(v) for v in _as_list(value)]
    hit = any(match(str(w), v) for w in _as_list(wanted) for v in values)
    return not hit if negated else hit


def _conditions_hold(statement: dict, context: dict) -> bool:
    return all(
        _condition_holds(operator, key, wanted, context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, wanted in keys.items()
    )


def decide(policies: list[dict], action: str, resource: str, context: dict | None = None) -> Decision:
    """The decision for one request under these identity-based policies (documents)."""
    context = context or {}
    allowed_by = ""
    for document in policies:
        for position, statement in enumerate(_as_list(document.get("Statement", []))):
            if not (_applies(statement, action, resource) and _conditions_hold(statement, context)):
                continue
            name = statement.get("Sid") or f"statement {position + 1}"
            if statement.get("Effect") == "Deny":
                return Decision(EXPLICIT_DENY, name)
            if statement.get("Effect") == "Allow" and not allowed_by:
                allowed_by = name
    return Decision(ALLOWED, allowed_by) if allowed_by else Decision(IMPLICIT_DENY)
