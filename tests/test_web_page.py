"""The live page in real headless Chromium (Debian's, driven by Playwright) during a demo run
with ``--web``: every party on the graph, files moving, an exchange opened in the inspector,
a fault button changing what happens next, the report so far drawn with its axes and SLA
lines. Screenshots are kept as test artifacts (NOEMIE_SIM_ARTIFACTS, default test-artifacts/).
Every wait is on the page's own signals (data- attributes it sets) or the run's events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .web_helpers import CHROMIUM_FLAGS, artifacts, chromium, serving


def test_the_live_page_shows_the_network_and_steers_it(tmp_path: Path) -> None:
    browser = chromium()
    from playwright.sync_api import sync_playwright

    shots = artifacts()
    with serving("run", "demo", "--paused", "--out", str(tmp_path / "run")) as served:
        served.wait_for_line("the clock is paused")  # the network is built
        parties = served.http.get("/api/network").json()["parties"]
        with sync_playwright() as playwright:
            chrome = playwright.chromium.launch(executable_path=browser, args=CHROMIUM_FLAGS,
                                                timeout=0)  # fmt: skip
            try:
                page = chrome.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(0)  # waits end on the page's signals, not a clock
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(served.url)
                page.wait_for_function("document.body.dataset.ready === 'yes'")

                # every party is on the graph, with its role
                drawn = page.eval_on_selector_all(
                    "#graph .party", "nodes => nodes.map(n => [n.dataset.id, n.dataset.role])"
                )
                assert sorted(drawn) == sorted([p["id"], p["role"]] for p in parties)
                assert page.inner_text("#state") == "paused"

                # the clock advanced from the page: the day's lots go out, the ARL come back
                page.select_option("#until-kind", "arl-sent")
                page.click("#advance-until")
                page.wait_for_function("+document.body.dataset.moved >= 2")
                page.wait_for_selector("#exchanges tbody tr.exchange")
                page.wait_for_function("document.querySelector('#state').textContent === 'paused'")
                page.screenshot(path=shots / "live-demo-files.png", full_page=False)
                _same_numbers_as_the_report(page, served.http)

                # an exchange clicked: its explain tree, its validation, its seal
                page.click("#exchanges tbody tr.exchange >> nth=-1")  # the first lot sent
                page.wait_for_function("document.body.dataset.explained !== undefined")
                assert int(page.evaluate("document.body.dataset.explained")) > 3
                assert page.locator("#tab-explain .record").count() > 3
                assert "Type 0" in page.inner_text("#tab-explain")
                page.click(".tabs button[data-tab=seal]")
                page.wait_for_function(
                    "document.querySelector('#tab-seal').textContent.includes('aes256_gcm')"
                )
                page.screenshot(path=shots / "live-demo-inspector.png", full_page=True)

                # a fault button: revoke the first PS's certificate; what happens next changes:
                # its next login is refused by the caisse's hub
                first_ps = next(p for p in parties if p["role"] == "ps")
                page.select_option("#fault-kind", "revoke-certificate")
                page.select_option("#fault-target", first_ps["id"])
                page.click("#inject")
                page.wait_for_function(
                    "document.querySelector('#fault-result').textContent.includes('revoke')"
                )
                page.select_option("#until-kind", "login-refused")
                page.click("#advance-until")
                page.wait_for_selector("#narration li.negative >> text=refuses a login of")
                told = page.inner_text("#narration")
                assert "fault injected: revoke-certificate" in told
                _same_numbers_as_the_report(page, served.http)
                refused = served.http.get("/api/events", params={"kind": "login-refused"}).json()
                assert refused["events"][0]["details"]["partner"] == first_ps["id"]

                # the report so far: the same charts as the offline report
                page.click("#refresh-report")
                page.wait_for_function("document.querySelector('#report').dataset.charts")
                charts = page.eval_on_selector_all(
                    "#report [data-chart]", "nodes => nodes.map(c => ({...c.dataset}))"
                )
                by_name = {c["chart"]: c for c in charts}
                assert by_name["timeline"]["xTitle"].startswith("simulated time")
                assert any("limitHours" in c for c in charts)  # a histogram with its SLA line
                assert "incomplete" in page.inner_text("#report #verdict")
                page.screenshot(path=shots / "live-demo.png", full_page=True)
            finally:
                chrome.close()
        assert not errors, errors
    for name in ("live-demo.png", "live-demo-files.png", "live-demo-inspector.png"):
        assert (shots / name).stat().st_size > 10_000


def _same_numbers_as_the_report(page: Any, http: Any) -> None:
    """The page's counters, once refreshed, are the report's numbers (the clock is paused)."""
    page.evaluate("refreshVerdict()")
    shown = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#counters [data-counter]')]"
        ".map(b => [b.dataset.counter, +b.querySelector('b').textContent]))"
    )
    report = http.get("/api/report").json()
    counts, rejects = report["counts"], report["rejects"]
    expected = {
        "lots": counts["lots"], "files": counts["files"], "invoices": counts["invoices"],
        "décomptes": counts["decomptes"], "IJ": counts["ij"],
        "positive ARL": rejects["arl_status"].get("P", 0),
        "negative ARL": rejects["arl_status"].get("N", 0),
        "duplicate ARL": rejects["arl_status"].get("D", 0),
        "refused files": sum(rejects["refused_files"].values()),
        "décomptes rejected": sum(rejects["oc"].values()),
    }  # fmt: skip
    assert shown["lots"] > 0 and shown["positive ARL"] > 0
    assert shown == {k: v for k, v in expected.items() if k in shown}
    assert all(v == 0 for k, v in expected.items() if k not in shown)


#: the visible text of the page, each element with its size on the screen (SVG text scaled by
#: its graph): [font px, tag, the text's start]
VISIBLE_TEXT = """
() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest("[hidden], script, style, title")) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const shown = style.visibility !== "hidden" && style.display !== "none";
    if (!box.width || !box.height || !shown) continue;
    let size = parseFloat(style.fontSize);
    if (el instanceof SVGElement && el.getScreenCTM()) size *= el.getScreenCTM().a;
    found.push([size, el.tagName, node.textContent.trim().slice(0, 30)]);
  }
  return found;
}
"""


@contextmanager
def ready_page(browser: str, url: str, width: int, height: int) -> Iterator[tuple[Any, list[str]]]:
    """Chromium on ``url`` at ``width``×``height``, once the page says it is ready (no
    timeout: waits end on the page's signals); the page and the script errors it raised."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=browser, args=CHROMIUM_FLAGS,
                                            timeout=0)  # fmt: skip
        try:
            page = chrome.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(0)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.wait_for_function("document.body.dataset.ready === 'yes'")
            yield page, errors
        finally:
            chrome.close()


def test_the_presenter_s_page_at_1024_by_768(tmp_path: Path) -> None:
    """On a projector (1024×768): a loading state before the script runs, no visible text
    under 14 px (the graph's names included), files that fly for 2 s at least, a sensible
    default fault, the next event by key (→) and by button on a virtual clock."""
    browser = chromium()

    shots = artifacts()
    with serving("run", "demo", "--paused", "--out", str(tmp_path / "run")) as served:
        served.wait_for_line("the clock is paused")
        raw = served.http.get("/").text
        assert 'id="loading"' in raw and "Loading the network" in raw  # before any script
        with ready_page(browser, served.url, 1024, 768) as (page, errors):
            assert page.is_hidden("#loading")
            assert page.evaluate("window.FLIGHT_MS") >= 2000
            assert page.input_value("#fault-kind") == "corrupt-lot"
            ps = {p["id"] for p in served.http.get("/api/network").json()["parties"]
                  if p["role"] == "ps"}  # fmt: skip
            assert page.input_value("#fault-target") in ps
            # the next event, by key: the clock moves to the next step and waits there
            before = served.http.get("/api/clock").json()["next_step"]["at"]
            shown = page.inner_text("#now")
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                f"document.querySelector('#now').textContent !== {json.dumps(shown)}"
            )
            clock = served.http.get("/api/clock").json()
            assert clock["now"] == before and clock["paused"], clock
            # and by button
            following = clock["next_step"]["at"]
            shown = page.inner_text("#now")
            page.click("#next-event")
            page.wait_for_function(
                f"document.querySelector('#now').textContent !== {json.dumps(shown)}"
            )
            assert served.http.get("/api/clock").json()["now"] == following
            # the guided tour: the chapter of what just happened; a jump to the next one
            page.select_option("#chapter-jump", "arl-sent")
            page.click("#go-chapter")
            page.wait_for_function("document.body.dataset.chapter === '2'")
            assert "ARL" in page.inner_text("#tour")
            page.select_option("#chapter-jump", "invoice-liquidated")
            page.click("#go-chapter")
            # the evening batch tells chapters 3 to 5 at once: each heads its lines
            page.wait_for_function("+document.body.dataset.chapter >= 3")
            headings = page.eval_on_selector_all(
                "#narration li.chapter", "items => items.map(i => i.textContent)"
            )
            assert any(h.startswith("3. ") for h in headings), headings
            page.wait_for_function("+document.body.dataset.moved >= 2")
            page.wait_for_function("document.querySelector('#state').textContent === 'paused'")
            page.evaluate("refreshVerdict()")
            texts = page.evaluate(VISIBLE_TEXT)
            assert any(tag.lower() == "text" for _size, tag, _text in texts)  # the graph's
            small = [t for t in texts if t[0] < 14]
            assert not small, small[:10]
            page.screenshot(path=shots / "live-demo-1024x768.png", full_page=False)
            assert not errors, errors


def test_the_page_in_french_for_a_room_of_trainees(tmp_path: Path) -> None:
    """``--lang fr``: the page's own words are French (no English message of the page is
    visible once the run has moved), and its screenshots at 1024×768 and 1920×1080 are kept."""
    from noemie_sim.scenarios.i18n import language, page_messages, script_messages
    from noemie_sim.scenarios.web import app

    browser = chromium()

    static = Path(app.__file__).parent / "static"
    fr = language("fr")
    english = {m for m in page_messages((static / "live.html").read_text(encoding="utf-8"))
               + script_messages((static / "live.js").read_text(encoding="utf-8"))
               if fr._(m) != m}  # fmt: skip
    shots = artifacts()
    with serving(
        "run", "demo", "--paused", "--lang", "fr", "--out", str(tmp_path / "run")
    ) as served:
        served.wait_for_line("the clock is paused")
        with ready_page(browser, served.url, 1024, 768) as (page, errors):
            assert page.get_attribute("html", "lang") == "fr"
            page.select_option("#chapter-jump", "invoice-liquidated")
            page.click("#go-chapter")
            page.wait_for_function("+document.body.dataset.chapter >= 3")
            page.wait_for_function("document.querySelector('#state').dataset.state === 'paused'")
            page.evaluate("refreshVerdict()")
            texts = {text for _size, _tag, text in page.evaluate(VISIBLE_TEXT)}
            told = page.inner_text("body")
            assert not [m for m in english if m[:30] in texts], sorted(english & texts)
            for french in ("Le réseau", "Ce qui se passe", "en pause", "ARL positifs",
                           "La caisse paie", "traités en moins de"):  # fmt: skip
                assert french in told, french
            page.screenshot(path=shots / "live-demo-fr-1024x768.png", full_page=False)
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.screenshot(path=shots / "live-demo-fr-1920x1080.png", full_page=False)
            assert not errors, errors
