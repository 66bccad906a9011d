"""What to seed: the window of days, the volume, the random seed and the defect schedule.

A :class:`DefectSchedule` maps days to the defects injected on that day. It is an immutable
mapping, so it can sit in a frozen :class:`SeedConfig` and be compared and hashed; its text form
(``"2026-11-05:null_burst,price_outlier;2026-11-07:missing_partition"``) round-trips through
:meth:`DefectSchedule.parse` and :meth:`DefectSchedule.to_string`, which is what an Airflow
``Param`` or a CLI flag carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from assay.errors import ConfigError

# Names of the defects, in the order DefectSchedule.demo places them.
NULL_BURST = "null_burst"
DUPLICATED_EVENTS = "duplicated_events"
PRICE_OUTLIER = "price_outlier"
RENAMED_CATEGORY = "renamed_category"
ADDED_COLUMN = "added_column"
MISSING_PARTITION = "missing_partition"
BOM_FEED = "bom_feed"
WRONG_DELIMITER = "wrong_delimiter"
BAD_ENCODING = "bad_encoding"

#: Every defect seed_shop can inject. Each one affects only its own day.
DEFECTS: tuple[str, ...] = (
    NULL_BURST,
    DUPLICATED_EVENTS,
    PRICE_OUTLIER,
    RENAMED_CATEGORY,
    ADDED_COLUMN,
    MISSING_PARTITION,
    BOM_FEED,
    WRONG_DELIMITER,
    BAD_ENCODING,
)

#: Clean days DefectSchedule.demo leaves at the start, so anomaly detection has a baseline.
DEMO_WARMUP_DAYS = 7

#: Sessions per day at scale 1 (before the weekday factor). Each session shows 10 products.
SESSIONS_PER_SCALE = 200

#: Fewest products a shop may have: a few of every product type, so every session finds
#: same-type and same-category neighbours to show.
MIN_PRODUCTS = 100


def _as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"defect schedule: {value!r} is not a date (YYYY-MM-DD)") from None


class DefectSchedule(Mapping[date, frozenset[str]]):
    """Immutable mapping day -> defect names injected on that day.

    Raises:
        ConfigError: a name is not in :data:`DEFECTS`, or ``missing_partition`` shares a day with
            another defect (a day without data cannot also carry a data defect).
    """

    __slots__ = ("_days",)

    def __init__(self, days: Mapping[date | str, Iterable[str]] | None = None) -> None:
        parsed: dict[date, frozenset[str]] = {}
        for raw_day, raw_names in (days or {}).items():
            day = _as_date(raw_day)
            names = frozenset(n.strip() for n in raw_names if n.strip())
            unknown = sorted(names - set(DEFECTS))
            if unknown:
                raise ConfigError(
                    f"defect schedule: unknown defect(s) {unknown} on {day}; known: {list(DEFECTS)}"
                )
            if MISSING_PARTITION in names and len(names) > 1:
                raise ConfigError(
                    f"defect schedule: {day} combines missing_partition with {sorted(names - {MISSING_PARTITION})}; "
                    "a missing day has no data to carry other defects"
                )
            if names:
                parsed[day] = parsed.get(day, frozenset()) | names
        self._days: dict[date, frozenset[str]] = dict(sorted(parsed.items()))

    # ---- constructors ---------------------------------------------------------------------------
    @classmethod
    def none(cls) -> DefectSchedule:
        """No defects: every day is clean."""
        return cls()

    @classmethod
    def parse(cls, text: str) -> DefectSchedule:
        """Parse ``"YYYY-MM-DD:name,name;YYYY-MM-DD:name"`` (blank text means no defects)."""
        days: dict[date | str, list[str]] = {}
        for part in text.split(";"):
            if not part.strip():
                continue
            day_text, sep, names = part.partition(":")
            if not sep:
                raise ConfigError(f"defect schedule: {part.strip()!r} lacks ':' between day and defect names")
            day = _as_date(day_text)
            days.setdefault(day, []).extend(names.split(","))
        return cls(days)

    @classmethod
    def demo(cls, start_date: date, days: int) -> DefectSchedule:
        """Every defect once, each on its own day, after :data:`DEMO_WARMUP_DAYS` clean days.

        Defects are spread evenly over the days after the warm-up, so clean days separate them
        when the window is long enough.

        Raises:
            ConfigError: the window is shorter than the warm-up plus one day per defect.
        """
        needed = DEMO_WARMUP_DAYS + len(DEFECTS)
        if days < needed:
            raise ConfigError(
                f"the demo defect schedule needs at least {needed} days "
                f"({DEMO_WARMUP_DAYS} clean warm-up days + one per defect), got {days}"
            )
        stride = (days - DEMO_WARMUP_DAYS) // len(DEFECTS)
        return cls(
            {
                start_date + timedelta(days=DEMO_WARMUP_DAYS + i * stride): [name]
                for i, name in enumerate(DEFECTS)
            }
        )

    # ---- mapping protocol -----------------------------------------------------------------------
    def __getitem__(self, day: date) -> frozenset[str]:
        return self._days[day]

    def __iter__(self) -> Iterator[date]:
        return iter(self._days)

    def __len__(self) -> int:
        return len(self._days)

    def for_day(self, day: date) -> frozenset[str]:
        """The defects of ``day`` (empty on a clean day)."""
        return self._days.get(day, frozenset())

    def to_string(self) -> str:
        """The text form :meth:`parse` reads, with days and names sorted."""
        return ";".join(f"{d.isoformat()}:{','.join(sorted(n))}" for d, n in self._days.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DefectSchedule):
            return self._days == other._days
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._days.items()))

    def __repr__(self) -> str:
        return f"DefectSchedule.parse({self.to_string()!r})"


@dataclass(frozen=True)
class SeedConfig:
    """The demo shop to build.

    Attributes:
        start_date: first day of the window (UTC).
        days: number of consecutive days to seed.
        scale: multiplies sessions per day. Scale 1 is ~200 sessions, ~2,000 impressions and
            ~480 interactions a day; scale 2000 makes ~7 million rows a day.
        seed: the random seed; the same config and seed give byte-identical data.
        defects: which defects to inject on which day.
        n_products: catalog size; derived from ``scale`` when None.
        write_truth: write the hidden relevance grades to ``<landing>/_truth/relevance_<day>.parquet``.
    """

    start_date: date
    days: int
    scale: int = 1
    seed: int = 7
    defects: DefectSchedule = field(default_factory=DefectSchedule.none)
    n_products: int | None = None
    write_truth: bool = True

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ConfigError(f"seed: days must be >= 1, got {self.days}")
        if self.scale < 1:
            raise ConfigError(f"seed: scale must be >= 1, got {self.scale}")
        if self.seed < 0:
            raise ConfigError(f"seed: seed must be >= 0, got {self.seed}")
        if self.n_products is not None and self.n_products < MIN_PRODUCTS:
            raise ConfigError(f"seed: n_products must be >= {MIN_PRODUCTS}, got {self.n_products}")
        if not isinstance(self.defects, DefectSchedule):
            raise ConfigError("seed: defects must be a DefectSchedule (use DefectSchedule.parse for text)")

    @property
    def dates(self) -> tuple[date, ...]:
        """Every day of the window, in order."""
        return tuple(self.start_date + timedelta(days=i) for i in range(self.days))

    @property
    def product_count(self) -> int:
        """Products in the catalog: ``n_products`` or 500 + 250 per scale unit, at most 50,000."""
        if self.n_products is not None:
            return self.n_products
        return min(50_000, 500 + 250 * self.scale)

    @property
    def customer_count(self) -> int:
        """Registered customers: 1,000 per scale unit, at most 1,000,000."""
        return min(1_000_000, 1_000 * self.scale)
