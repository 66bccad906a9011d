"""GX's Data Docs views with every value escaped for HTML (loaded by GX by name, see gxrun's site config).

Why (GX 1.24.1, ``great_expectations/render/view/view.py``): the Jinja environment autoescapes only
templates named ``*.html``/``*.xml`` and GX's templates are ``*.j2``, so nothing is autoescaped.
GX escapes exactly one thing itself: the ``params`` of a string template (``html.escape(quote=False)``
in ``render_string_template``; expectation kwargs such as ``value_set`` or ``regex`` go that way).
Everything a content block holds as a plain value goes out raw: the cells of the unexpected-values
table (``partial_unexpected_list``, ``partial_unexpected_counts``, ``unexpected_index_list``), observed
values, header cells and list items -- a feed value ``<img src=x onerror=...>`` became a live element.

These views escape those plain values once, where they are written, and leave string-template params
to GX (escaping them here too would show ``&amp;lt;``). Two more spots are closed: a graph's Vega
spec is JSON inside ``<script>`` (``</`` becomes ``<\\/``, the same JSON), and bidirectional controls
are shown by code point on the whole page. The string-template *templates* GX fills from data (an
expectation's ``description``, ``unexpected_index_query``) are escaped before GX sees them, in
:mod:`assay.quality.gxrun`, because a template is otherwise trusted markup.

Every page leaves here pointing at the vendored CSS/JS instead of GX's CDNs
(:func:`assay.quality.docs_assets.localize`), so it is styled and the index fills offline.
"""

from __future__ import annotations

from typing import Any

from great_expectations.render.components import RenderedComponentContent
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import pass_context

from assay.quality.docs_assets import localize, site_root
from assay.quality.masking import html_text, show_controls


def _is_block(value: Any) -> bool:
    return isinstance(value, RenderedComponentContent) or (isinstance(value, dict) and "content_block_type" in value)


def _plain(value: Any) -> Any:
    """A plain (non-block) value as GX would print it, escaped; numbers and None stay as they are."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return html_text(value)


def name_data_asset(result: Any) -> Any:
    """The (copied, masked) validation result with its data asset named where GX's page header looks.

    GX 1.24's validation page prints "Data asset:" from ``meta.batch_spec.data_asset_name``; a
    SQL batch's spec has it, a dataframe batch's (assay's file feeds) does not -- the name is only
    in ``meta.active_batch_definition`` -- so those pages said "Data asset: None".
    """
    meta = getattr(result, "meta", None)
    if not isinstance(meta, dict):
        return result
    spec = meta.get("batch_spec")
    definition = meta.get("active_batch_definition")
    asset = (definition.get("data_asset_name") if isinstance(definition, dict)
             else getattr(definition, "data_asset_name", None))
    if asset and isinstance(spec, dict) and not spec.get("data_asset_name"):
        meta["batch_spec"] = {**spec, "data_asset_name": asset}
    return result


class _EscapingView:
    """Mixin over GX's ``DefaultJinjaView``: plain values escaped, graph specs kept inside their script."""

    @pass_context
    def render_content_block(
        self, jinja_context: Any, content_block: Any, index: Any = None, content_block_id: Any = None,
        render_to_markdown: bool = False,
    ) -> Any:
        """GX's filter, with plain values escaped before GX prints them raw."""
        if not render_to_markdown:
            if isinstance(content_block, list):
                content_block = [c if _is_block(c) else _plain(c) for c in content_block]
            elif isinstance(content_block, dict) and content_block.get("content_block_type") == "graph":
                content_block = {**content_block, "graph": str(content_block.get("graph", "")).replace("</", "<\\/")}
            elif isinstance(content_block, dict) and isinstance(content_block.get("string_template"), dict):
                content_block = self._safe_string_template(content_block)
            elif not _is_block(content_block):
                content_block = _plain(content_block)
        return super().render_content_block(  # type: ignore[misc]
            jinja_context, content_block, index, content_block_id, render_to_markdown
        )

    @pass_context
    def render_bootstrap_table_data(
        self, context: Any, table_data: Any, index: Any = None, content_block_id: str | None = None
    ) -> Any:
        """GX's filter; the hidden ``_``-keys (sort and link fields, which GX leaves out) escaped too.

        The rows are printed into a ``<script>`` as literals: a raw ``</script>`` in a sort field
        (a batch id made of a table name) would end the script.
        """
        rows = super().render_bootstrap_table_data(context, table_data, index, content_block_id)  # type: ignore[misc]
        for row in rows:
            for key, value in row.items():
                if key.startswith("_") and isinstance(value, str):
                    row[key] = html_text(value)
        return rows

    #: Whether a string template with a tooltip carries data in its template (the index's batch id).
    _tooltip_template_is_data = False

    def _safe_string_template(self, block: dict[str, Any]) -> dict[str, Any]:
        """A string template whose tooltip (and, on the index, template) is data: escaped.

        GX writes both raw. In GX 1.24 tooltips hold either a constant (an expectation type) or,
        on the site index, a batch spec as JSON -- whose batch-id cell has the batch id (``source-asset``,
        a table name) as its template.
        """
        st = block["string_template"]
        tooltip = st.get("tooltip")
        if not isinstance(tooltip, dict) or "content" not in tooltip:
            return block
        st = {**st, "tooltip": {**tooltip, "content": html_text(tooltip["content"])}}
        if self._tooltip_template_is_data and isinstance(st.get("template"), str):
            st["template"] = html_text(st["template"])
        return {**block, "string_template": st}

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> str:
        """The page, with its title and section names escaped, bidirectional controls made visible, no CDN.

        The page title (suite / asset / run) and section names (column names) are printed by GX's
        page templates directly, not through a content block. CDN URLs become the vendored copies,
        relative to the site root as GX's own links are.
        """
        if isinstance(getattr(document, "page_title", None), str):
            document.page_title = html_text(document.page_title)
        for section in getattr(document, "sections", None) or []:
            if isinstance(getattr(section, "section_name", None), str):
                section.section_name = html_text(section.section_name)
        root = site_root(getattr(document, "renderer_type", None), getattr(document, "expectation_suite_name", None))
        return localize(show_controls(super().render(document, template, **kwargs)), root)  # type: ignore[misc]


class EscapingPageView(_EscapingView, DefaultJinjaPageView):
    """Validation and suite pages."""


class EscapingIndexPageView(_EscapingView, DefaultJinjaIndexPageView):
    """The site index."""

    _tooltip_template_is_data = True
