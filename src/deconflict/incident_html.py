"""The incident report as one HTML page an investigator can open from disk.

The page draws the report (map, timeline chart, timeline table, what each
party could see, channel membership) and carries the report itself, verbatim,
in a ``<script type="application/json">`` element: ``deconflict verify`` reads
the page, :func:`extract` takes the report back out, and the proofs in it are
checked as if the JSON had been saved.

Everything the page shows comes from other parties (names, notice texts,
views), so every piece of it is HTML-escaped, and the page loads nothing: no
file, font, script or image beyond itself. Its Content-Security-Policy forbids
any load, so a slip could not reach the network either.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from typing import Any

from deconflict import errors
from deconflict.incident_svg import KIND_COLOURS, chart_svg, latlon, map_svg

__all__ = ["extract", "render"]

_SCRIPT_ID = "deconflict-incident"
_FOUND = re.compile(
    r'<script\b[^>]*\bid="deconflict-incident"[^>]*>(.*?)</script\s*>', re.DOTALL | re.IGNORECASE
)
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2", "#d4a017")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pretty(value: Any) -> str:
    return _e(json.dumps(value, indent=1, ensure_ascii=False))


# --- the embedded report --------------------------------------------------------------------


def _embedded(report: dict[str, Any]) -> str:
    """The report as JSON that cannot end or comment out the script element holding it.

    ``<\\/`` and ``\\u003c`` are JSON escapes, so the text is still the report:

    >>> _embedded({"text": "</script><!--"})
    '{"text": "<\\\\/script>\\\\u003c!--"}'
    """
    text = json.dumps(report, ensure_ascii=True)
    return text.replace("<!--", "\\u003c!--").replace("</", "<\\/")


def extract(html_text: str) -> dict[str, Any]:
    """The report embedded in a page that :func:`render` made."""
    found = _FOUND.search(html_text)
    if found is None:
        raise errors.InvalidValue(f"the page holds no incident report (no script #{_SCRIPT_ID})")
    try:
        report = json.loads(found.group(1))
    except ValueError as exc:
        raise errors.InvalidValue(f"the page's incident report is not JSON: {exc}") from None
    if not isinstance(report, dict) or report.get("type") != "deconflict.incident":
        raise errors.InvalidValue("the page's embedded JSON is not a deconflict.incident report")
    return report


# --- colours and time -----------------------------------------------------------------------


def _party_colours(report: dict[str, Any]) -> dict[str, str]:
    """One colour per party, in name order; past the palette, hues a golden angle apart."""
    names = {n["party"] for n in report["notices"]} | {
        line["party"] for line in report["lines"] if line.get("party") is not None
    }
    return {
        name: _PALETTE[i] if i < len(_PALETTE) else f"hsl({i * 137.508 % 360:.0f} 55% 42%)"
        for i, name in enumerate(sorted(names, key=str))
    }


# --- the sections ---------------------------------------------------------------------------


def _header(report: dict[str, Any]) -> str:
    q, note = report["question"], str(report["checkpoint"])
    origin, size, root = ([*note.split("\n"), "", "", ""])[:3]
    lines = report["lines"]
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        counts[line["kind"]] += 1
    tally = ", ".join(f"{n} {_e(kind)}" for kind, n in sorted(counts.items()))
    proved = sum(1 for line in lines if line.get("ledger") is not None)
    unproved = sorted({str(line["kind"]) for line in lines if line.get("ledger") is None})
    store = (
        f"; {len(lines) - proved} kept in the store only, with no proof ({_e(', '.join(unproved))})"
        if unproved
        else ""
    )
    return f"""<header>
<h1>Incident report</h1>
<dl class="facts">
{_reader(report)}<dt>Instant</dt><dd>{_e(q["at"])}</dd>
<dt>Place</dt><dd>{_e(latlon(*q["near"]))}</dd>
<dt>Radius</dt><dd>{_e(q["radius_km"])} km</dd>
<dt>Window</dt><dd>±{_e(q["window_min"])} min: {_e(q["from"])} to {_e(q["to"])}</dd>
<dt>Checkpoint</dt><dd>tree size <b>{_e(size)}</b> of log <code>{_e(origin)}</code>,
root <code>{_e(root)}</code>
<details><summary>signed note</summary><pre>{_e(note)}</pre></details></dd>
<dt>Timeline</dt><dd>{len(lines)} lines ({tally}): {proved} ledgered, each with an inclusion
proof{store}</dd>
</dl>
<p class="verify">This page holds the whole report. To check every ledgered line offline
against the signed checkpoint, run <code>deconflict verify THIS_FILE.html --key VKEY</code>
with the verifier key of log <code>{_e(origin)}</code> (the key itself, or a file holding it).
A line whose words, record, view or alert were changed fails the check.</p>
</header>"""


def _reader(report: dict[str, Any]) -> str:
    """Whom the report was cut for: content it has no need to know is withheld."""
    if report.get("reader") is None:
        return ""
    return (
        f"<dt>Reader</dt><dd>{_e(report['reader'])}: notice content, views, alerts and"
        " tracks it has no need to know are withheld; their metadata and proofs are here</dd>"
    )


def _swatches(colours: dict[str, str]) -> str:
    return " ".join(
        f'<span class="swatch" style="background:{c}"></span>{_e(name)}'
        for name, c in colours.items()
    )


def _ledger_details(ledger: dict[str, Any]) -> str:
    proof = "".join(f"<li><code>{_e(h)}</code></li>" for h in ledger["proof"])
    salt = (
        f"<code>{_e(ledger['salt'])}</code>"
        if "salt" in ledger
        else "withheld with the record's content: the entry proves only that it is logged"
    )
    what = "record" if "salt" in ledger else "metadata (content withheld)"
    return (
        f"<details><summary>{what} and inclusion proof</summary><pre>"
        f'{_pretty(ledger["record"])}</pre><dl class="proof">'
        f"<dt>entry</dt><dd><code>{_e(ledger['entry'])}</code></dd>"
        f"<dt>salt</dt><dd>{salt}</dd>"
        f"<dt>proof ({len(ledger['proof'])} hashes)</dt><dd><ol>{proof}</ol></dd>"
        f"</dl></details>"
    )


def _attached(line: dict[str, Any]) -> str:
    """The views a disclosure showed and the alerts a delivery carried, each openable."""
    items = []
    for view in line.get("views", []):
        head = f"view of {_e(view['notice'])} v{_e(view['version'])}"
        items.append(f"<li><details><summary>{head}</summary><pre>{_pretty(view['view'])}</pre>")
        items.append("</details></li>")
    for alert in line.get("alerts", []) + ([line["alert"]] if "alert" in line else []):
        head = f"alert #{_e(alert.get('id'))} {_e(alert.get('type'))} at {_e(alert.get('at'))}"
        items.append(f"<li><details><summary>{head}</summary><pre>{_pretty(alert)}</pre>")
        items.append("</details></li>")
    if not items and line["kind"] == "delivery":
        items.append("<li>none of the alerts carried concern this area</li>")
    return f'<ul class="attached">{"".join(items)}</ul>' if items else ""


def _table(report: dict[str, Any]) -> str:
    rows = []
    for n, line in enumerate(report["lines"]):
        ledger = line.get("ledger")
        where = (
            f'<span title="{_e(line.get("note", ""))}">not ledgered</span>'
            if ledger is None
            else f"#{_e(ledger['index'])}"
        )
        more = "" if ledger is None else _ledger_details(ledger)
        colour = KIND_COLOURS.get(line["kind"], "#444")
        rows.append(
            f'<tr id="line-{n}" class="line"><td class="n">{n}</td>'
            f'<td class="at">{_e(line["at"])}</td><td class="kind">'
            f'<span class="swatch" style="background:{colour}"></span>{_e(line["kind"])}</td>'
            f"<td>{_e(line.get('party') or '—')}</td><td>{_e(line['text'])}{_attached(line)}"
            f'{more}</td><td class="index">{where}</td></tr>'
        )
    return (
        '<table id="timeline"><thead><tr><th>#</th><th>time (UTC)</th><th>kind</th>'
        "<th>party</th><th>what happened</th><th>ledger</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --- the state at the instant ---------------------------------------------------------------


def _notices(report: dict[str, Any], colours: dict[str, str]) -> str:
    rows = []
    for notice in report["notices"]:
        versions = "; ".join(
            f"v{_e(v['version'])} {_e(v['state'])} at {_e(v['at'])} (#{_e(v['ledger'])})"
            + (" content withheld" if v.get("redacted") else "")
            for v in notice.get("versions", [])
        )
        colour = colours.get(notice["party"], "#555")
        rows.append(
            f'<tr><td><span class="swatch" style="background:{colour}"></span>'
            f"{_e(notice['party'])}</td><td>{_e(notice['kind'])}</td>"
            f"<td>{_e(notice.get('category') or '—')}</td>"
            f"<td><code>{_e(notice['id'])}</code></td><td>{versions}</td></tr>"
        )
    return (
        '<table id="notices"><thead><tr><th>owner</th><th>kind</th><th>category</th>'
        "<th>notice</th><th>versions logged</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _seen(report: dict[str, Any]) -> str:
    rows = [
        f"<tr><td>{_e(party)}</td><td>{_e(s.get('owner'))}'s <code>{_e(s.get('notice'))}</code>"
        f" v{_e(s.get('version'))}</td><td>{_e(s.get('level'))}</td>"
        f"<td>{_e(s.get('reason', ''))}</td><td>{_e(s.get('since', s.get('first_shown', '')))}"
        f"</td><td>#{_e(s.get('ledger'))}</td></tr>"
        for party, shown in report["seen"].items()
        for s in shown
    ]
    return (
        '<table id="seen"><thead><tr><th>party</th><th>could see</th><th>level</th>'
        "<th>why</th><th>since</th><th>ledger</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">Each row names the ledger entry it rests on: the notice version'
        " (its owner, its audience) or the disclosure that showed it. A party not listed could"
        " see none of these notices at the instant"
        f"{_withheld_audiences(report)}. This table and the channels below are"
        " worked out from the ledger when the report was built; the check proves the entries"
        " they cite, not the tables themselves.</p>"
    )


def _withheld_audiences(report: dict[str, Any]) -> str:
    if not any(v.get("redacted") for n in report["notices"] for v in n.get("versions", [])):
        return ""
    return (
        ", except through the audience of a version whose content is withheld from"
        f" {_e(report.get('reader'))}: an audience is part of a notice's content"
    )


def _channels(report: dict[str, Any]) -> str:
    items = "".join(
        f"<dt>{_e(channel)}</dt><dd>{', '.join(_e(m) for m in members) or 'no members'}</dd>"
        for channel, members in report["channels"].items()
    )
    return f'<dl id="channels" class="facts">{items}</dl>' if items else "<p>No channels.</p>"


def _undrawn(report: dict[str, Any]) -> str:
    if report.get("reader") is None:
        return ""
    return (
        " Notices whose content is withheld from the reader, and other parties' tracks, are"
        " listed but not drawn."
    )


# --- the page -------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --ink: #1d2733; --soft: #5b6675; --line: #d8dde3; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, sans-serif;
  color: var(--ink); background: #f6f7f9; }
h1 { margin: 0 0 8px; font-size: 24px; } h2 { margin: 0 0 10px; font-size: 18px; }
h3 { margin: 20px 0 6px; font-size: 15px; }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 16px 20px; margin-bottom: 20px; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
pre { max-height: 360px; overflow: auto; background: #f3f5f7; padding: 8px; margin: 6px 0;
  white-space: pre-wrap; overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--soft); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.verify { margin: 12px 0 0; padding: 8px 12px; background: #eef4fb; border-radius: 4px; }
.mapgrid { display: grid; grid-template-columns: minmax(0, 640px) minmax(0, 1fr); gap: 24px; }
svg { display: block; width: 100%; height: auto; overflow: hidden; }
#map { border: 1px solid var(--line); }
.sea { fill: #fbfcfd; } .grid { stroke: #e3e7eb; stroke-width: 1; }
.gl, .tl, .il, .craft, .north { font-size: 11px; fill: var(--soft); }
.notice { fill-opacity: .18; stroke-width: 1.5; }
.notice.route { fill: none; stroke-opacity: .55; stroke-linecap: round; stroke-linejoin: round; }
.notice.cancelled { fill-opacity: .05; stroke-dasharray: 6 4; }
.earlier { fill: none; stroke-width: 1; stroke-dasharray: 3 3; stroke-opacity: .7; }
.track { fill: none; stroke-width: 1.5; } .fix { stroke: #fff; stroke-width: 1; }
.incident { fill: none; stroke: #c0392b; stroke-width: 2; stroke-dasharray: 8 4; }
.centre { stroke: #c0392b; stroke-width: 2; } .scale { stroke: var(--ink); stroke-width: 3; }
.label { font-size: 12px; font-weight: 600; text-anchor: middle;
  paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.craft { font-weight: 600; fill: var(--ink); text-anchor: middle;
  paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.row { font-size: 12px; text-anchor: end; fill: var(--ink); }
.rowline { stroke: var(--line); } .tick { stroke: #edf0f3; } .tl { text-anchor: middle; }
.instant { stroke: #c0392b; stroke-width: 2; } .il { fill: #c0392b; }
.mark { stroke-width: 1.5; cursor: pointer; } a:hover .mark { stroke: #000; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin: 0 5px 0 2px; vertical-align: baseline; }
.legend, .note { color: var(--soft); margin: 8px 0 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
  border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { color: var(--soft); font-weight: 600; }
td.n, td.at, td.kind, td.index { white-space: nowrap; }
.band0 { fill: #fafbfc; } .band1 { fill: #fff; } tr:target { background: #fff6d8; }
details summary { cursor: pointer; color: #2c5d8f; }
ul.attached { margin: 4px 0; padding-left: 18px; }
dl.proof { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 4px 0; }
dl.proof dd { margin: 0; } dl.proof ol { margin: 0; padding-left: 22px; }
"""


def render(report: dict[str, Any]) -> str:
    """One self-contained HTML page showing an incident report and carrying it verbatim."""
    if not isinstance(report, dict) or report.get("type") != "deconflict.incident":
        raise errors.InvalidValue("not an incident report (type deconflict.incident)")
    q = report["question"]
    colours = _party_colours(report)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incident {_e(q["at"])} near {_e(latlon(*q["near"]))}</title>
<style>{_CSS}</style></head><body>
{_header(report)}
<section><h2>Map</h2><div class="mapgrid">{map_svg(report, colours)}<div>
<p class="legend">{_swatches(colours)}</p>
<p class="note">The dashed red circle is the incident: {_e(q["radius_km"])} km around the
point. Filled shapes are the newest logged version of each notice in the area, thick lines
are movement corridors, dotted outlines earlier versions, dashed ones cancelled notices.
Dots joined by a line are one aircraft's track reports in the window.{_undrawn(report)}
Equirectangular projection centred on the point.</p>
</div></div><h3>Notices in the area</h3>{_notices(report, colours)}</section>
<section><h2>Timeline</h2>{chart_svg(report)}
<p class="legend">{_swatches(KIND_COLOURS)}. Hollow marks lie outside the window and are drawn
at its edge; each mark links to its row below. Times are UTC.</p></section>
<section><h2>Timeline lines</h2>{_table(report)}</section>
<section><h2>What each party could see at the instant</h2>{_seen(report)}</section>
<section><h2>Channel membership at the instant</h2>{_channels(report)}</section>
<script type="application/json" id="{_SCRIPT_ID}">{_embedded(report)}</script>
</body></html>
"""
