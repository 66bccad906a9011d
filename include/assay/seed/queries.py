"""Search queries derived from a target product, with the noise real shoppers add.

A query states an *intent*: the target's product type (always) and, each with its own
probability, its brand, colour, size and material. The words are then perturbed so that lexical
overlap with the product title is an unreliable signal:

* synonyms for the type (sofa -> couch, tv -> television, laptop -> notebook, sneakers -> trainers);
* spelling and unit variants for colours and sizes (grey -> gray, "55 inch" -> '55"', "24 cm" -> "24cm");
* accents dropped from brands ("maison léa" -> "maison lea");
* word order shuffled between three templates;
* typos: an adjacent swap, a dropped, doubled or replaced character.

Which tokens still match the title literally is recorded, because the logged (noisy) ranker is
lexical and a learned model should beat it exactly where the words differ.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assay.seed import vocab
from assay.seed.catalog import Products, get_vocab

# Probability that the query states each attribute besides the type.
P_BRAND = 0.30
P_COLOUR = 0.55
P_SIZE = 0.25
P_MATERIAL = 0.30
P_TYPE_SYNONYM = 0.45
P_VARIANT = 0.40
P_TYPO = 0.18
P_SECOND_TYPO = 0.04

_NUMBER_WORDS = {"2": "two", "3": "three", "4": "four"}
_SIZE_WORDS = {"s": "small", "m": "medium", "l": "large", "xl": "extra large"}
# Keyboard neighbours for replacement typos (QWERTY, letters only).
_NEIGHBOURS = {
    "a": "qsz", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy",
    "i": "uok", "j": "hku", "k": "jli", "l": "kop", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol",
    "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "x": "zcs",
    "y": "tuh", "z": "xa",
}  # fmt: skip

_ORDERS = (
    ("brand", "colour", "material", "type", "size"),
    ("type", "colour", "size", "material", "brand"),
    ("colour", "type", "material", "brand", "size"),
)
_SLOTS = ("brand", "type", "colour", "size", "material")
_UNIT = re.compile(r"^(\d+(?:\.\d+)?) (cm|mm|ml|l|kg|m)$")


def size_variants(size: str) -> tuple[str, ...]:
    """Other ways shoppers write a size ("55 inch" -> '55"', "55in"; "size 42" -> "42", "eu 42")."""
    if size.endswith(" inch"):
        n = size.removesuffix(" inch")
        return (f'{n}"', f"{n}in", f"{n} in")
    if size.startswith("size "):
        n = size.removeprefix("size ")
        return (n, f"eu {n}")
    if size.endswith("-seater"):
        n = size.removesuffix("-seater")
        return (f"{n} seater", f"{_NUMBER_WORDS.get(n, n)} seater")
    if size.endswith(" pieces"):
        n = size.removesuffix(" pieces")
        return (f"{n} pcs", f"{n}pc")
    if m := _UNIT.match(size):
        return (f"{m.group(1)}{m.group(2)}",)
    if size in _SIZE_WORDS:
        return (_SIZE_WORDS[size],)
    if size.startswith("w") and size[1:].isdigit():
        return (f"{size[1:]} waist",)
    if size in ("king", "double", "single"):
        return (f"{size} size",)
    return ()


def strip_accents(text: str) -> str:
    """Drop accents, as shoppers do on keyboards without them ("maison léa" -> "maison lea")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _word_tables() -> tuple[tuple[tuple[str, ...], ...], ...]:
    v = get_vocab()
    return (
        tuple(v.type_words(t) for t in range(len(v.types))),
        tuple((c, *vocab.COLOUR_VARIANTS.get(c, ())) for c in v.colours),
        tuple((s, *size_variants(s)) for s in v.sizes),
        tuple((m, *vocab.COLOUR_VARIANTS.get(m, ())) for m in v.materials),
    )


def typo(word: str, kind: int, u: float, repl: float) -> str:
    """One typo in ``word`` at a position chosen by ``u`` in [0, 1).

    ``kind``: 0 swaps two adjacent characters, 1 drops one, 2 doubles one, 3 replaces a letter
    with a keyboard neighbour. Words shorter than four characters are returned unchanged; in a
    multi-word token one word of four or more characters takes the typo.
    """
    if " " in word:
        # Multi-word tokens ("frying pan") take the typo in one of their long words, never a space.
        parts = word.split(" ")
        long_parts = [k for k, w in enumerate(parts) if len(w) >= 4]
        if not long_parts:
            return word
        k = long_parts[int(u * len(long_parts))]
        parts[k] = typo(parts[k], kind, u, repl)
        return " ".join(parts)
    if len(word) < 4:
        return word
    # Keep the first character: shoppers rarely mistype it, and it keeps the word recognisable.
    i = 1 + int(u * (len(word) - 2))
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i])
    if near is None:
        return word[:i] + word[i + 1 :]
    return word[:i] + near[int(repl * len(near))] + word[i + 1 :]


@dataclass(frozen=True)
class QueryBatch:
    """Queries for a batch of sessions, with the intent and noise behind each one."""

    text: list[str]
    has_brand: np.ndarray
    has_colour: np.ndarray
    has_size: np.ndarray
    has_material: np.ndarray
    type_word: np.ndarray  # word of the type used: 0 canonical, k the k-th synonym
    # Per slot: the query word is the catalog's own word, unaltered by variants or typos. For the
    # type this means "no typo": which of its words (type_word) the query used is kept apart,
    # since titles use synonyms too.
    literal: dict[str, np.ndarray]
    has_typo: np.ndarray
    has_synonym: np.ndarray  # a type synonym or a colour/size/material variant
    has_accent_drop: np.ndarray


def make_queries(rng: np.random.Generator, products: Products, targets: np.ndarray) -> QueryBatch:
    """One query per target product (vectorised draws, one short Python pass to join words)."""
    v = get_vocab()
    type_words, colour_words, size_words, material_words = _word_tables()
    n = len(targets)
    t_type = products.type_id[targets]
    t_brand = products.brand_id[targets]
    t_colour = products.colour_id[targets]
    t_size = products.size_id[targets]
    t_material = products.material_id[targets]

    has = {
        "brand": rng.random(n) < P_BRAND,
        "colour": rng.random(n) < P_COLOUR,
        "size": rng.random(n) < P_SIZE,
        "material": rng.random(n) < P_MATERIAL,
    }
    n_type_words = np.array([len(w) for w in type_words])[t_type]
    use_syn = rng.random(n) < P_TYPE_SYNONYM
    type_word = np.where(use_syn, 1 + (rng.random(n) * (n_type_words - 1)).astype(np.int64), 0)
    variant_u = rng.random((n, 3))  # colour, size, material
    variant_pick = rng.random((n, 3))
    accent_drop = rng.random(n) < 0.5
    order = rng.integers(0, len(_ORDERS), n)
    n_typos = (rng.random(n) < P_TYPO).astype(np.int64) + (rng.random(n) < P_SECOND_TYPO)
    typo_slot = rng.random((n, 2))
    typo_kind = rng.integers(0, 4, (n, 2))
    typo_pos = rng.random((n, 2))
    typo_repl = rng.random((n, 2))

    texts: list[str] = []
    literal = {s: np.zeros(n, dtype=bool) for s in _SLOTS}
    has_typo = np.zeros(n, dtype=bool)
    has_variant = np.zeros(n, dtype=bool)
    has_accent_drop = np.zeros(n, dtype=bool)
    brand_lower = [b.lower() for b in v.brands]
    for i in range(n):
        words: dict[str, str] = {"type": type_words[t_type[i]][type_word[i]]}
        lit = {"type": True}
        if has["brand"][i]:
            brand = brand_lower[t_brand[i]]
            if accent_drop[i]:
                folded = strip_accents(brand)
                has_accent_drop[i] = folded != brand
                brand = folded
            words["brand"] = brand
            lit["brand"] = not has_accent_drop[i]
        for k, (slot, table, code) in enumerate(
            (
                ("colour", colour_words, t_colour),
                ("size", size_words, t_size),
                ("material", material_words, t_material),
            )
        ):
            if not has[slot][i]:
                continue
            options = table[code[i]]
            if len(options) > 1 and variant_u[i, k] < P_VARIANT:
                words[slot] = options[1 + int(variant_pick[i, k] * (len(options) - 1))]
                lit[slot] = False
                has_variant[i] = True
            else:
                words[slot] = options[0]
                lit[slot] = True
        slots = [s for s in _ORDERS[order[i]] if s in words]
        for j in range(int(n_typos[i])):
            # Typos land on words long enough to survive one; multi-word tokens take it in one word.
            candidates = [s for s in slots if len(words[s]) >= 4]
            if not candidates:
                break
            slot = candidates[int(typo_slot[i, j] * len(candidates))]
            mistyped = typo(words[slot], int(typo_kind[i, j]), float(typo_pos[i, j]), float(typo_repl[i, j]))
            if mistyped != words[slot]:
                words[slot] = mistyped
                lit[slot] = False
                has_typo[i] = True
        texts.append(" ".join(words[s] for s in slots))
        for s, flag in lit.items():
            literal[s][i] = flag
    return QueryBatch(
        text=texts,
        has_brand=has["brand"],
        has_colour=has["colour"],
        has_size=has["size"],
        has_material=has["material"],
        type_word=type_word.astype(np.int32),
        literal=literal,
        has_typo=has_typo,
        has_synonym=(type_word > 0) | has_variant,
        has_accent_drop=has_accent_drop,
    )
