"""The hidden truth: how relevant a product is to a query's intent, graded 0..3.

Grades depend on the intent behind a query (the target's type plus whichever of brand, colour,
size and material the shopper stated), never on the query's words. So a typo'd or synonym query
has the same grades as its clean form, and lexical overlap does not explain them:

* 3 - same product type and every stated attribute matches (the target always does);
* 2 - same product type and the stated colour (if any) matches, but another stated attribute
  (brand, size or material) differs;
* 1 - same two-level category ("Home > Furniture"), including the same type in another colour;
* 0 - anything else.

The grades drive the simulated clicks and purchases. They are never written to the shop tables,
only to ``<landing>/_truth/relevance_<day>.parquet`` for evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from assay.seed.catalog import Products

#: Columns of the truth file that describe a query's intent (None: not stated).
INTENT_COLUMNS: tuple[str, ...] = (
    "intent_type",
    "intent_category",
    "intent_brand",
    "intent_colour",
    "intent_size",
    "intent_material",
)


def grade_matrix(
    products: Products,
    targets: np.ndarray,
    candidates: np.ndarray,
    has_brand: np.ndarray,
    has_colour: np.ndarray,
    has_size: np.ndarray,
    has_material: np.ndarray,
) -> np.ndarray:
    """Grades for every (session, candidate) pair.

    Args:
        products: the catalog.
        targets: (n,) index of each session's target product.
        candidates: (n, k) product indices shown or considered for each session.
        has_brand, has_colour, has_size, has_material: (n,) which attributes the query states.

    Returns:
        (n, k) int8 grades in 0..3.
    """
    t = targets[:, None]
    same_type = products.type_id[candidates] == products.type_id[t]
    same_cat = products.category_id[candidates] == products.category_id[t]
    colour_ok = ~has_colour[:, None] | (products.colour_id[candidates] == products.colour_id[t])
    others_ok = (
        (~has_brand[:, None] | (products.brand_id[candidates] == products.brand_id[t]))
        & (~has_size[:, None] | (products.size_id[candidates] == products.size_id[t]))
        & (~has_material[:, None] | (products.material_id[candidates] == products.material_id[t]))
    )
    grades = np.where(
        same_type & colour_ok & others_ok, 3, np.where(same_type & colour_ok, 2, np.where(same_cat, 1, 0))
    )
    return grades.astype(np.int8)


def _two_level(category_path: str) -> str:
    return " > ".join(category_path.split(" > ")[:2])


def true_relevance(query_row: Mapping[str, Any], product_row: Mapping[str, Any]) -> int:
    """The hidden grade (0..3) of a product for a query, as the simulator defines it.

    Args:
        query_row: a row of a truth file (``_truth/relevance_<day>.parquet``) or any mapping with
            the :data:`INTENT_COLUMNS`; ``intent_category`` may be the two-level category or a
            full category path. Unstated attributes are None (or NaN, as pandas reads them).
        product_row: a row of the ``products`` table (``product_type``, ``category_path``,
            ``brand``, ``colour``, ``size``, ``material``).

    Returns:
        The grade; it equals the grade the simulator used for that (session, product) pair.
    """

    def stated(key: str) -> str | None:
        value = query_row.get(key)
        return value if isinstance(value, str) else None

    same_type = product_row["product_type"] == query_row["intent_type"]
    same_cat = _two_level(product_row["category_path"]) == _two_level(str(query_row["intent_category"]))
    colour = stated("intent_colour")
    colour_ok = colour is None or product_row["colour"] == colour
    others_ok = all(
        (want := stated(f"intent_{attr}")) is None or product_row[attr] == want
        for attr in ("brand", "size", "material")
    )
    if same_type and colour_ok and others_ok:
        return 3
    if same_type and colour_ok:
        return 2
    return 1 if same_cat else 0
