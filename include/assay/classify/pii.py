"""PII detection: column-name hints plus value patterns that must also validate.

Each detector has a *name hint* (tokens of the column name, sometimes the table name) and a *value
matcher* that returns the format a value matched (``e164``, ``uk``, ``visa`` ...) or ``None``. The
score of a detector on a column is::

    ratio = matched / sampled            (sampled = non-null, non-blank values, at most 200)
    score = ratio                        without a name hint
    score = min(1, ratio + NAME_BONUS)   with a name hint (NAME_BONUS = 0.3)

and a column is PII when the best score is at least :data:`PII_THRESHOLD` (0.8): at least 80 % of
the values match on their own, or a name hint plus at least 50 % of the values. A name hint with no
matching value scores 0.3, well below the threshold: a column called ``email`` full of product ids
is not PII. Values are validated, not just shaped: emails need a dotted domain, card numbers the
Luhn checksum, IPv4 octets at most 255 (``ipaddress`` does the parsing).

Some formats are too common to count without a hint: bare 5-digit codes (US ZIP, DE and FR postal
codes), digit-only phone numbers and person names. Those count only when the column name says so,
so a column of 5-digit quantities, product titles or brand names is never flagged.

The name hints live in :mod:`assay.classify.pii_names`, the value matchers and column screens in
:mod:`assay.classify.pii_values`; this module pairs them per label (:data:`DETECTORS`) and scores.

Evidence (JSON, never a raw value)::

    {"matched": 47, "sampled": 50, "ratio": 0.94, "pattern": "email", "formats": {"email": 47},
     "name_hint": true, "threshold": 0.8, "examples_masked": ["j***@e***.com", ...]}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from assay.classify.base import Classification, ColumnSample
from assay.classify.mask import mask_value
from assay.classify.pii_names import (
    HintRule,
    address_hint,
    card_hint,
    email_hint,
    ip_hint,
    person_hint,
    phone_hint,
    postal_hint,
)
from assay.classify.pii_values import (
    MatchContext,
    Matcher,
    Screen,
    address_screen,
    card_screen,
    email_screen,
    ip_screen,
    match_address,
    match_card,
    match_email,
    match_ip,
    match_person,
    match_phone,
    match_postal,
    person_screen,
    phone_screen,
    postal_screen,
)
from assay.classify.text import ColumnView

#: A column is PII when its best detector scores at least this.
PII_THRESHOLD = 0.8
#: Added to the value match ratio when the column name hints at the label.
NAME_BONUS = 0.3
#: Masked examples kept in the evidence.
MAX_EXAMPLES = 3

#: Every PII label, in the order ties are broken.
PII_LABELS: tuple[str, ...] = (
    "email",
    "card_number",
    "phone",
    "ip_address",
    "address",
    "person_name",
    "postal_code",
)

#: Type families whose values can be PII at all; numbers only for the digit-only labels.
_TEXT_FAMILIES = frozenset({"text", "other"})
_DIGIT_LABELS = frozenset({"phone", "card_number", "postal_code"})
_DIGIT_FAMILIES = frozenset({"integer", "decimal"})


@dataclass(frozen=True)
class Detector:
    """One PII label: its column-name hint rule, its value matcher and its column screen.

    ``screen`` answers "could any value of this column match?" with one search over all the
    values at once (:attr:`ColumnView.blob`). It must be a necessary condition of ``match``
    (``False`` only when ``match`` returns ``None`` for every value); ``True`` just means the
    values are checked one by one. Most columns fail every screen, which is what makes
    classifying 40,000 columns cheap.
    """

    label: str
    hint: HintRule
    match: Matcher
    screen: Screen


DETECTORS: tuple[Detector, ...] = (
    Detector("email", email_hint, match_email, email_screen),
    Detector("card_number", card_hint, match_card, card_screen),
    Detector("phone", phone_hint, match_phone, phone_screen),
    Detector("ip_address", ip_hint, match_ip, ip_screen),
    Detector("address", address_hint, match_address, address_screen),
    Detector("person_name", person_hint, match_person, person_screen),
    Detector("postal_code", postal_hint, match_postal, postal_screen),
)
assert tuple(d.label for d in DETECTORS) == PII_LABELS


def _applies(detector: Detector, col: ColumnView) -> bool:
    """Whether values of this declared type can hold this label at all."""
    if col.family in _TEXT_FAMILIES:
        return True
    return detector.label in _DIGIT_LABELS and col.family in _DIGIT_FAMILIES


def _score_one(detector: Detector, col: ColumnView) -> Classification | None:
    hint = detector.hint(col)
    if not detector.screen(col, hint):
        if hint == "none":
            return None
        candidates: tuple[str, ...] = ()  # no value can match: a name-only score
    else:
        candidates = col.values
    ctx = MatchContext(hint=hint)
    formats: Counter[str] = Counter()
    examples: list[str] = []
    for value in candidates:
        fmt = detector.match(value, ctx)
        if fmt is None:
            continue
        formats[fmt] += 1
        if len(examples) < MAX_EXAMPLES:
            masked = mask_value(detector.label, value)
            if masked not in examples:
                examples.append(masked)
    matched = sum(formats.values())
    if not matched and hint == "none":
        return None
    sampled = len(col.values)
    value_ratio = matched / sampled if sampled else 0.0
    score = min(1.0, value_ratio + NAME_BONUS) if hint != "none" else value_ratio
    evidence = {
        "matched": matched,
        "sampled": sampled,
        "ratio": round(value_ratio, 4),
        "pattern": detector.label,
        "formats": dict(formats.most_common()),
        "name_hint": hint != "none",
        "threshold": PII_THRESHOLD,
        "examples_masked": examples,
    }
    if hint == "weak":
        evidence["name_hint_strength"] = "weak"
    return Classification(
        kind="pii",
        label=detector.label,
        score=round(score, 4),
        method="pattern" if matched else "name",
        evidence=evidence,
    )


def score_pii(sample: ColumnSample) -> list[Classification]:
    """Every PII label with any evidence on this column, best first, including those below threshold.

    Use :func:`detect_pii` for the decision; this is for explaining it (and for tests that show a
    name hint alone stays below :data:`PII_THRESHOLD`).
    """
    return _score_view(ColumnView(sample))


def _score_view(col: ColumnView) -> list[Classification]:
    found = [c for d in DETECTORS if _applies(d, col) and (c := _score_one(d, col)) is not None]
    # Stable sort: ties keep PII_LABELS order (email before phone before postal code ...).
    return sorted(found, key=lambda c: -c.score)


def detect_pii(sample: ColumnSample) -> Classification | None:
    """The column's PII label when its best score reaches :data:`PII_THRESHOLD`, else ``None``.

    The other candidates (label and score only) are listed in ``evidence["alternatives"]``.
    """
    return _decide(_score_view(ColumnView(sample)))


def _decide(candidates: list[Classification]) -> Classification | None:
    if not candidates or candidates[0].score < PII_THRESHOLD:
        return None
    best = candidates[0]
    alternatives = [{"label": c.label, "score": c.score} for c in candidates[1:]]
    if not alternatives:
        return best
    return Classification(
        kind=best.kind,
        label=best.label,
        score=best.score,
        method=best.method,
        evidence={**best.evidence, "alternatives": alternatives},
    )
