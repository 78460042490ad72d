"""axe-core in the browser tests: the accessibility gate (JIS X 8341-3 AA = WCAG 2.x A + AA).

``axe_violations(page)`` runs the vendored axe-core (tests/vendor/axe-core, a test tool never served to
users) in a Playwright page and answers its violations; ``assert_accessible(page, state_name)`` fails
on every critical or serious one (rule, impact, help, the first nodes' targets and html) and prints the
moderate and minor ones.

axe is put into the page with ``page.add_script_tag(path=…)``: Playwright inlines the file into a
``<script>``, which our pages' Content-Security-Policy refuses (no inline script). When that happened
the same source is evaluated through the DevTools protocol instead, which the CSP does not govern; the
page's own policy stays in force for everything the page does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

AXE_VERSION = "4.14.1"
AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe has no wcag22a tag: 2.2's new A criteria are tagged 21a/22aa).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING = ("critical", "serious")
SHOWN_NODES = 3

_RUN = """
async ([context, options]) => {
  const result = await window.axe.run(context || document, options);
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, tags: v.tags,
    nodes: v.nodes.map((n) => ({target: n.target, html: n.html, summary: n.failureSummary})),
  }));
}
"""


def inject(page) -> None:
    """Load axe into the page once (a navigation clears it)."""
    if page.evaluate("() => typeof window.axe === 'object' && !!window.axe.run"):
        return
    with contextlib.suppress(Exception):  # refused by the page's CSP: evaluated below instead
        page.add_script_tag(path=str(AXE_JS))
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    version = page.evaluate("() => window.axe.version")
    assert version == AXE_VERSION, version


def axe_violations(page, context: Any = None, rules: list[str] | None = None) -> list[dict]:
    """axe's violations in the page (or in ``context``: a selector or axe context object), for the
    WCAG A + AA rules, or only for ``rules`` (rule ids) when given."""
    inject(page)
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    else:
        options["runOnly"] = {"type": "tag", "values": WCAG_TAGS}
    return page.evaluate(_RUN, [context, options])


def describe(violation: dict, nodes: int = SHOWN_NODES) -> str:
    lines = [
        f"[{violation['impact']}] {violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes)"
    ]
    for node in violation["nodes"][:nodes]:
        html = " ".join(node["html"].split())
        lines.append(f"    {' '.join(map(str, node['target']))}  {html[:200]}")
    return "\n".join(lines)


def report(violations: list[dict], state_name: str) -> tuple[list[dict], list[dict]]:
    """Split into (failing, other) and print the others."""
    failing = [v for v in violations if v["impact"] in FAILING]
    other = [v for v in violations if v["impact"] not in FAILING]
    for v in other:
        print(f"a11y {state_name}: " + describe(v, 1))
    return failing, other


def assert_accessible(
    page, state_name: str, context: Any = None, allowed: set[str] = frozenset()
) -> list[dict]:
    """Fail on every critical or serious violation except the rule ids in ``allowed`` (known, reported,
    to be fixed); answers all violations found."""
    violations = axe_violations(page, context)
    check(violations, state_name, allowed)
    return violations


def check(violations: list[dict], state_name: str, allowed: set[str] = frozenset()) -> None:
    failing, _ = report(violations, state_name)
    for v in failing:
        if v["id"] in allowed:
            print(f"a11y {state_name} (known): " + describe(v, 1))
    new = [v for v in failing if v["id"] not in allowed]
    assert not new, f"{state_name}: {len(new)} critical/serious accessibility violations\n" + "\n".join(
        describe(v) for v in new
    )
