"""The dimension tables: products and customers.

Both depend only on the seed and their size, except their timestamps, which are anchored before
the first seeded day (``updated_at`` and ``created_at`` precede every event). Attributes are kept
as integer codes next to the rendered strings, so the event generator can compute relevance and
pick neighbours with numpy instead of comparing strings.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pyarrow as pa

from assay.seed import vocab
from assay.seed.rng import stream


@dataclass(frozen=True)
class Supplier:
    """A supplier sending a daily product feed in one file format."""

    name: str
    fmt: str  # csv | tsv | parquet | jsonl
    currency: str
    sku_prefix: str


#: The four suppliers; a product belongs to exactly one and is priced in its currency.
SUPPLIERS: tuple[Supplier, ...] = (
    Supplier("northwind", "csv", "EUR", "NW"),
    Supplier("brightline", "tsv", "GBP", "BL"),
    Supplier("cascade", "parquet", "USD", "CS"),
    Supplier("meridian", "jsonl", "EUR", "MD"),
)


def _distinct(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """A ragged list of code lists as a -1 padded matrix plus the row lengths."""
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), -1, dtype=np.int32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out, np.array([len(r) for r in rows], dtype=np.int32)


@dataclass(frozen=True)
class Vocab:
    """Integer codes for every word list of :mod:`assay.seed.vocab`."""

    types: tuple[vocab.ProductType, ...]
    type_category: np.ndarray  # type -> category
    category_paths: tuple[str, ...]  # "Home > Furniture"
    brands: tuple[str, ...]
    colours: tuple[str, ...]
    sizes: tuple[str, ...]
    materials: tuple[str, ...]
    cat_brands: np.ndarray
    cat_brand_n: np.ndarray
    cat_colours: np.ndarray
    cat_colour_n: np.ndarray
    cat_materials: np.ndarray
    cat_material_n: np.ndarray
    type_sizes: np.ndarray
    type_size_n: np.ndarray

    def leaf_path(self, type_id: int) -> str:
        """Full category path of a type: "Home > Furniture > Sofas"."""
        t = self.types[type_id]
        return f"{self.category_paths[int(self.type_category[type_id])]} > {t.leaf}"

    def type_words(self, type_id: int) -> tuple[str, ...]:
        """The canonical word of a type, then its synonyms."""
        t = self.types[type_id]
        return (t.name, *t.synonyms)


@lru_cache(maxsize=1)
def get_vocab() -> Vocab:
    """The coded vocabulary (built once)."""
    cats = vocab.CATEGORIES
    types = tuple(t for c in cats for t in c.types)
    type_category = np.array([ci for ci, c in enumerate(cats) for _ in c.types], dtype=np.int32)
    brands = _distinct([b for c in cats for b in c.brands])
    colours = _distinct([x for c in cats for x in c.colours])
    materials = _distinct([m for c in cats for m in c.materials])
    sizes = _distinct([s for t in types for s in t.sizes])
    cat_brands, cat_brand_n = _padded([[brands.index(b) for b in c.brands] for c in cats])
    cat_colours, cat_colour_n = _padded([[colours.index(x) for x in c.colours] for c in cats])
    cat_materials, cat_material_n = _padded([[materials.index(m) for m in c.materials] for c in cats])
    type_sizes, type_size_n = _padded([[sizes.index(s) for s in t.sizes] for t in types])
    return Vocab(
        types=types,
        type_category=type_category,
        category_paths=tuple(c.path for c in cats),
        brands=brands,
        colours=colours,
        sizes=sizes,
        materials=materials,
        cat_brands=cat_brands,
        cat_brand_n=cat_brand_n,
        cat_colours=cat_colours,
        cat_colour_n=cat_colour_n,
        cat_materials=cat_materials,
        cat_material_n=cat_material_n,
        type_sizes=type_sizes,
        type_size_n=type_size_n,
    )


def _pick(rng: np.random.Generator, table: np.ndarray, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each row index, a uniform pick among ``table[row, :counts[row]]``."""
    idx = (rng.random(len(rows)) * counts[rows]).astype(np.int64)
    return table[rows, idx].astype(np.int32)


def display_word(word: str) -> str:
    """Title-case a type, colour or material for a product title ("smart tv" -> "Smart TV")."""
    return " ".join("TV" if w == "tv" else w.capitalize() for w in word.split(" "))


def display_size(size: str) -> str:
    """Sizes as titles print them ("xl" -> "XL", "w32" -> "W32", "4k" -> "4K", "55 inch" unchanged)."""
    short_code = len(size) <= 3 and not size[0].isdigit()
    return size.upper() if short_code or size == "4k" else size


def midnight_utc(day: date) -> np.datetime64:
    """Start of ``day`` (UTC) as a second-resolution numpy timestamp (numpy times carry no zone)."""
    return np.datetime64(day.isoformat(), "s")


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC"))


def cents_to_decimal(cents: np.ndarray) -> pa.Array:
    """Integer cents as decimal(12,2) (exact: no float rounding on the way)."""
    text = [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]
    return pa.array(text).cast(pa.decimal128(12, 2))


@dataclass(frozen=True)
class Products:
    """The product catalog: coded attributes plus the rendered ``products`` table."""

    product_ids: pa.Array
    type_id: np.ndarray
    category_id: np.ndarray
    brand_id: np.ndarray
    colour_id: np.ndarray
    size_id: np.ndarray
    material_id: np.ndarray
    title_word: np.ndarray  # index into type_words: 0 = canonical, k = k-th synonym
    supplier_id: np.ndarray
    price_cents: np.ndarray
    popularity: np.ndarray  # sampling weights of search targets, sums to 1
    titles: tuple[str, ...]
    table: pa.Table

    def __len__(self) -> int:
        return len(self.type_id)


def make_products(seed: int, n: int, anchor: date) -> Products:
    """Generate ``n`` products; every type gets ``n // types`` or one more.

    Args:
        seed: the random seed.
        n: number of products.
        anchor: ``updated_at`` falls in the year before this day.
    """
    v = get_vocab()
    rng = stream(seed, "products", n)
    n_types = len(v.types)
    type_id = rng.permutation(np.arange(n) % n_types).astype(np.int32)
    category_id = v.type_category[type_id]
    brand_id = _pick(rng, v.cat_brands, v.cat_brand_n, category_id)
    colour_id = _pick(rng, v.cat_colours, v.cat_colour_n, category_id)
    material_id = _pick(rng, v.cat_materials, v.cat_material_n, category_id)
    size_rank = (rng.random(n) * v.type_size_n[type_id]).astype(np.int64)
    size_id = v.type_sizes[type_id, size_rank].astype(np.int32)
    model_id = rng.integers(0, len(vocab.MODELS), n)
    n_words = np.array([len(v.type_words(t)) for t in range(n_types)])
    # Most titles use the canonical word; one in five a synonym, so lexical match is not the rule.
    use_synonym = rng.random(n) < 0.2
    title_word = np.where(use_synonym, 1 + (rng.random(n) * (n_words[type_id] - 1)).astype(np.int64), 0)
    supplier_id = (rng.permutation(n) % len(SUPPLIERS)).astype(np.int32)
    lo = np.array([t.price_range[0] for t in v.types])[type_id]
    hi = np.array([t.price_range[1] for t in v.types])[type_id]
    base = np.exp(np.log(lo) + rng.random(n) * (np.log(hi) - np.log(lo))) * (1 + 0.1 * size_rank)
    price_cents = (np.maximum(np.round(base), 2) * 100 - 1).astype(np.int64)  # 349.99-style prices
    template_id = rng.integers(0, len(vocab.TITLE_TEMPLATES), n)
    desc_id = rng.integers(0, len(vocab.DESCRIPTION_TEMPLATES), n)
    rating = np.round(2.5 + 2.5 * rng.beta(4, 1.5, n), 1)
    reviews = rng.zipf(1.8, n).clip(max=5000) - 1
    weight_g = np.round(np.exp(rng.normal(7, 1.2, n))).astype(np.int64)
    age_days = rng.integers(1, 366, n)
    age_seconds = rng.integers(0, 86_400, n)
    # Popularity of a product as a search target: a Zipf-like law over a random ranking.
    rank = rng.permutation(n)
    weights = 1.0 / (rank + 10.0) ** 0.9
    popularity = weights / weights.sum()

    # The bad_encoding defect must have a non-ASCII byte to mangle in the CSV supplier's feed.
    csv_products = np.flatnonzero(supplier_id == 0)
    if len(csv_products):
        model_id[csv_products[0]] = vocab.MODELS.index("Étoile")

    titles: list[str] = []
    descriptions: list[str] = []
    attributes: list[str] = []
    colours, sizes, materials = [], [], []
    for i in range(n):
        t = int(type_id[i])
        words = v.type_words(t)
        fields = {
            "brand": v.brands[brand_id[i]],
            "model": vocab.MODELS[model_id[i]],
            "colour": v.colours[colour_id[i]],
            "size": v.sizes[size_id[i]],
            "material": v.materials[material_id[i]],
        }
        shown = {
            **fields,
            "type": display_word(words[title_word[i]]),
            "colour": display_word(fields["colour"]),
            "size": display_size(fields["size"]),
            "material": display_word(fields["material"]),
        }
        titles.append(vocab.TITLE_TEMPLATES[template_id[i]].format(**shown))
        descriptions.append(vocab.DESCRIPTION_TEMPLATES[desc_id[i]].format(**{**fields, "type": words[0]}))
        attributes.append(
            json.dumps(
                {
                    "colour": fields["colour"],
                    "size": fields["size"],
                    "material": fields["material"],
                    "model": fields["model"],
                    "rating": float(rating[i]),
                    "review_count": int(reviews[i]),
                    "weight_g": int(weight_g[i]),
                },
                sort_keys=True,
                ensure_ascii=False,
            )
        )
        colours.append(fields["colour"])
        sizes.append(fields["size"])
        materials.append(fields["material"])

    anchor_s = midnight_utc(anchor)
    updated = anchor_s - age_days.astype("timedelta64[D]") + age_seconds.astype("timedelta64[s]")
    product_ids = pa.array([f"P{i + 1:06d}" for i in range(n)])
    table = pa.table(
        {
            "product_id": product_ids,
            "title": pa.array(titles),
            "brand": pa.array([v.brands[b] for b in brand_id]),
            "category_path": pa.array([v.leaf_path(int(t)) for t in type_id]),
            "product_type": pa.array([v.types[t].name for t in type_id]),
            "colour": pa.array(colours),
            "size": pa.array(sizes),
            "material": pa.array(materials),
            "description": pa.array(descriptions),
            "price": cents_to_decimal(price_cents),
            "currency": pa.array([SUPPLIERS[s].currency for s in supplier_id]),
            "attributes": pa.array(attributes),
            "updated_at": _timestamps(updated),
        }
    )
    return Products(
        product_ids=product_ids,
        type_id=type_id,
        category_id=category_id,
        brand_id=brand_id,
        colour_id=colour_id,
        size_id=size_id,
        material_id=material_id,
        title_word=title_word.astype(np.int32),
        supplier_id=supplier_id,
        price_cents=price_cents,
        popularity=popularity,
        titles=tuple(titles),
        table=table,
    )


# ---- customers ------------------------------------------------------------------------------------

_NON_LOCAL = re.compile(r"[^a-z0-9]+")
_GB_AREAS = ("SW", "SE", "EC", "N", "E", "W", "M", "B", "LS", "G", "EH", "CF", "BS", "L")
_GB_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_US_AREAS = ("202", "212", "305", "312", "415", "512", "617", "646", "718", "917")


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits only ("Lefèvre" -> "lefevre", "O'Brien" -> "obrien")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return _NON_LOCAL.sub("", folded)


def _phone(country: str, a: int, b: int) -> str:
    # Numbers from ranges regulators reserve for fiction where one exists (Ofcom 020 7946 0xxx,
    # NANP 555-01xx, ARCEP 01 99 00 xx xx): well-formed, never anyone's real line.
    if country == "GB":
        return f"+44 20 7946 0{a % 1000:03d}"
    if country == "US":
        return f"+1-{_US_AREAS[b % len(_US_AREAS)]}-555-01{a % 100:02d}"
    if country == "FR":
        return f"+33 1 99 00 {a % 100:02d} {b % 100:02d}"
    if country == "DE":
        return f"+49 30 {a % 10000:04d} {b % 10000:04d}"
    return f"+31 20 {a % 1000:03d} {b % 10000:04d}"


def _postal_code(country: str, a: int, b: int) -> str:
    if country == "GB":
        l1 = _GB_LETTERS[a % len(_GB_LETTERS)]
        l2 = _GB_LETTERS[b % len(_GB_LETTERS)]
        return f"{_GB_AREAS[a % len(_GB_AREAS)]}{1 + b % 20} {a % 10}{l1}{l2}"
    if country == "NL":
        return f"{1000 + a % 9000:04d} {_GB_LETTERS[b % 20]}{_GB_LETTERS[(a // 7) % 20]}"
    return f"{1000 + (a * 7 + b) % 90000:05d}"


def _street(country: str, number: int, street: str) -> str:
    return f"{street} {number}" if country in ("DE", "NL") else f"{number} {street}"


def _ip(kind: int, a: int, b: int, c: int) -> str:
    # Private (10/8) and documentation (RFC 5737) ranges only.
    if kind == 0:
        return f"192.0.2.{1 + c % 254}"
    if kind == 1:
        return f"198.51.100.{1 + c % 254}"
    if kind == 2:
        return f"203.0.113.{1 + c % 254}"
    return f"10.{a % 256}.{b % 256}.{1 + c % 254}"


def make_customers(seed: int, n: int, anchor: date) -> pa.Table:
    """Generate ``n`` customers with fake but well-formed PII.

    Args:
        seed: the random seed.
        n: number of customers.
        anchor: ``created_at`` falls in the three years before this day.
    """
    rng = stream(seed, "customers", n)
    first = rng.integers(0, len(vocab.FIRST_NAMES), n)
    last = rng.integers(0, len(vocab.LAST_NAMES), n)
    country_names = [c for c, _ in vocab.COUNTRIES]
    country_p = np.array([p for _, p in vocab.COUNTRIES])
    country = rng.choice(len(country_names), size=n, p=country_p / country_p.sum())
    domain = rng.integers(0, len(vocab.EMAIL_DOMAINS), n)
    pattern = rng.integers(0, 4, n)
    a = rng.integers(0, 1_000_000, n)
    b = rng.integers(0, 1_000_000, n)
    c = rng.integers(0, 1_000_000, n)
    street_no = rng.integers(1, 250, n)
    ip_kind = rng.choice(4, size=n, p=[0.1, 0.1, 0.1, 0.7])
    age_days = rng.integers(1, 3 * 365, n)
    age_seconds = rng.integers(0, 86_400, n)

    ids, emails, phones, names, streets, postals, countries, ips = [], [], [], [], [], [], [], []
    for i in range(n):
        fn = vocab.FIRST_NAMES[first[i]]
        ln = vocab.LAST_NAMES[last[i]]
        ctry = country_names[country[i]]
        f, l_ = ascii_fold(fn), ascii_fold(ln)
        local = (f"{f}.{l_}", f"{f[0]}{l_}", f"{f}_{l_}", f"{l_}.{f}")[pattern[i]]
        ids.append(f"C{i + 1:07d}")
        emails.append(f"{local}{i + 1}@{vocab.EMAIL_DOMAINS[domain[i]]}")
        phones.append(_phone(ctry, int(a[i]), int(b[i])))
        names.append(f"{fn} {ln}")
        street_list = vocab.STREETS[ctry]
        streets.append(_street(ctry, int(street_no[i]), street_list[int(c[i]) % len(street_list)]))
        postals.append(_postal_code(ctry, int(a[i]), int(b[i])))
        countries.append(ctry)
        ips.append(_ip(int(ip_kind[i]), int(a[i]), int(b[i]), int(c[i])))

    created = midnight_utc(anchor) - age_days.astype("timedelta64[D]") + age_seconds.astype("timedelta64[s]")
    return pa.table(
        {
            "customer_id": pa.array(ids),
            "email": pa.array(emails),
            "phone": pa.array(phones),
            "full_name": pa.array(names),
            "street_address": pa.array(streets),
            "postal_code": pa.array(postals),
            "country": pa.array(countries),
            "ip_address": pa.array(ips),
            "created_at": _timestamps(created),
        }
    )
