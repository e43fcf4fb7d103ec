"""The design's data rules stated in Python, independent of any engine.

Property-based tests check that each rule and both engines' constraints agree on generated
inputs; the bad-input matrix uses them to state what each row should do.
"""

from __future__ import annotations

import json
import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
ROLES = ("user", "admin", "contributor")


def email_ok(value: str) -> bool:
    """ck_users_email: local@domain.tld, ASCII letters in the TLD, at most 254 characters."""
    return EMAIL.fullmatch(value) is not None and len(value) <= 254


def user_name_ok(value: str) -> bool:
    """ck_users_name_length."""
    return 1 <= len(value) <= 255


def role_ok(value: str) -> bool:
    """ck_users_role."""
    return value in ROLES


def semver_ok(value: str) -> bool:
    """ck_templates_version_semver and ck_template_versions_version_semver."""
    return SEMVER.fullmatch(value) is not None


# Semantic Versioning 2.0.0, section 9-10: pre-release identifiers are non-empty, numeric ones have no
# leading zero; build metadata identifiers are non-empty. What create_template_version accepts.
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER_STRICT = re.compile(
    rf"{_NUM}\.{_NUM}\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def semver_valid(value: str) -> bool:
    """A well-formed semantic version (the strict grammar of semver 2.0; SQL: semver_valid)."""
    return SEMVER_STRICT.fullmatch(value) is not None


def semver_cmp(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` precedes, equals or follows `b` in semver 2.0 precedence (SQL: semver_cmp).

    MAJOR, MINOR and PATCH compare numerically; a version with a pre-release precedes the same version
    without one; pre-release identifiers compare left to right, numeric ones numerically and below
    alphanumeric ones (compared in ASCII order), and a shorter list precedes a longer one it prefixes;
    build metadata is ignored.
    """

    def key(v: str) -> tuple:
        core, _, pre = v.split("+", 1)[0].partition("-")
        major, minor, patch = (int(x) for x in core.split("."))
        ids = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in pre.split(".")) if pre else ()
        # no pre-release sorts after any pre-release of the same core
        return (major, minor, patch, 0 if pre else 1, ids)

    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


def description_ok(value: str) -> bool:
    """ck_templates_description_length."""
    return len(value) >= 10


# White space as ck_templates_description_not_blank (V0024) counts it: POSIX [:space:] in the C collation
# (ASCII only) and the Unicode spaces the check lists.
BLANK = frozenset(
    " \t\n\v\f\r\u0085\u00a0\u1680\u180e\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
) | frozenset(chr(c) for c in range(0x2000, 0x200E))


def description_not_blank(value: str) -> bool:
    """ck_templates_description_not_blank (V0024; PostgreSQL only: DuckDB cannot add it)."""
    return any(ch not in BLANK for ch in value)


def version_strict_ok(value: str) -> bool:
    """ck_templates_version_semver_strict and ck_templates_version_length (V0024; PostgreSQL only)."""
    return semver_valid(value) and len(value) <= 50


def project_name_ok(value: str) -> bool:
    """ck_projects_name_length."""
    return 2 <= len(value) <= 100


def usage_count_ok(value: int) -> bool:
    """ck_patterns_usage_count."""
    return value >= 0


def jsonb_storable(document: str) -> bool:
    """Every JSONB column: no key or string holds U+0000, which PostgreSQL's jsonb cannot store.

    The design follows its target: such a document is invalid. DuckDB's JSON type stores it, so on
    DuckDB this rule is the writer's to keep (engine disagreement E3 of the Data Quality section).
    """

    def clean(value: object) -> bool:
        if isinstance(value, str):
            return "\x00" not in value
        if isinstance(value, dict):
            return all(clean(k) and clean(v) for k, v in value.items())
        if isinstance(value, list):
            return all(clean(v) for v in value)
        return True

    return clean(json.loads(document))


def json_object_ok(document: str) -> bool:
    """ck_*_configuration_object: the JSON document is an object (its shape; see also jsonb_storable)."""
    return isinstance(json.loads(document), dict)


def template_schema_ok(document: str) -> bool:
    """ck_templates_schema_valid: an object with a variables array and a files entry (its shape)."""
    doc = json.loads(document)
    return isinstance(doc, dict) and "files" in doc and isinstance(doc.get("variables"), list)
