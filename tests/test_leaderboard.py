"""The leaderboard page from fixture run records: content, escaping, self-containment, and a real browser."""

import re
import shutil
from html import unescape
from urllib.parse import unquote

import pytest

from sedbench.pipeline.record import SCHEMA_VERSION, load_records, write_record
from sedbench.publish.leaderboard import render, write_leaderboard
from sedbench.publish.report import write_reports
from sedbench.publish.summary import summarize

XSS = "<script>alert(1)</script>"
LABELS = ["bird singing", "car", "dog barking"]


def _record(dataset, system, seed, headline, *, kind="events", parameters=1000, fit=10.0, config_hash=None):
    record = {
        "schema_version": SCHEMA_VERSION, "created": f"2026-11-21T10:00:0{seed}+00:00",
        "system": {"name": system, "paper": "cakir2017", "citation": f"citation of {system}",
                   "url": "https://arxiv.org/abs/1702.06286", "parameters": parameters},
        "dataset": {"name": dataset, "fingerprint": "f00dfeed", "labels": LABELS},
        "fold": "1", "seed": seed, "profile": "quick", "config": {"max_epochs": 3, "name": system},
        "config_hash": config_hash or f"{system[:6]}hash",
        "headline": headline, "timings": {"fit": fit, "total": fit + 1.5},
        "device": {"type": "cpu", "name": "x86_64"},
        "environment": {"git_commit": "0123456789abcdef0123", "versions": {"sedbench": "0.1.0", "torch": "2.13.0"}},
    }
    if kind == "events":
        f1 = headline["F1_frm"]
        record["metrics"] = {"frame": {"class_wise": {label: {"F1": f1 - 10 * i} for i, label in enumerate(LABELS)}}}
        record["history"] = {"epoch": [1, 2, 3], "valid_F1_frm": [f1 / 3, f1 / 2, f1], "train_loss": [0.5, 0.4, 0.3]}
        record["excerpt"] = {"clip": "audio/test_000.wav", "start": 0.0, "end": 10.0,
                             "reference": [[0.5, 3.0, "car"], [4.0, 6.5, "dog barking"]],
                             "estimated": [[0.7, 2.8, "car"], [5.0, 6.0, "bird singing"]]}
        record["robustness"] = {"pitch_shift": {"unit": "quartertones (24 bins per octave)", "shifts": {
            "-1": {"abs_change_F1_frm": 1.0 + seed}, "+1": {"abs_change_F1_frm": 2.0}}}}
    else:
        record["metrics"] = {"tags": {"class_wise": {label: {"F1": 70.0, "EER": 0.2} for label in LABELS}}}
    return record


def _events(f1_frm, er_frm, f1_1s=None):
    return {"F1_frm": f1_frm, "ER_frm": er_frm, "F1_1s": f1_1s if f1_1s is not None else f1_frm + 2,
            "ER_1s": er_frm - 0.05, "F1_event": 10.0, "ER_event": 2.0}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """synth: crnn best on F1, gmm best on ER_frm, an HTML-named system; tags-demo: a tagging dataset."""
    root = tmp_path_factory.mktemp("leaderboard-runs")
    records = [
        _record("synth", "crnn", 0, _events(66.0, 0.50)), _record("synth", "crnn", 1, _events(64.0, 0.52)),
        _record("synth", "crnn", 2, _events(65.0, 0.51)),
        _record("synth", "gmm", 0, _events(40.0, 0.30), parameters=None, fit=2.0),
        _record("synth", "gmm", 1, _events(42.0, 0.32), parameters=None, fit=2.0),
        _record("synth", XSS, 0, {"F1_frm": 50.0, "ER_frm": 0.7, "F1_1s": 51.0, "ER_1s": 0.6}, fit=5.0),
        _record("tags-demo", "crnn", 0, {"F1_tag": 70.0, "EER": 0.20}, kind="tags"),
        _record("tags-demo", "fnn", 0, {"F1_tag": 60.0, "EER": 0.15}, kind="tags"),
    ]
    for record in records:
        safe = re.sub(r"\W", "_", record["system"]["name"])
        write_record(root / record["dataset"]["name"] / safe / f"{record['config_hash']}-seed{record['seed']}.json",
                     record)
    return root


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "leaderboard.html"
    write_leaderboard(load_records(runs), out)
    return out


def _results_rows(html: str, dataset: str) -> list[str]:
    section = html.split(f'data-dataset="{dataset}"', 1)[1].split("</section>", 1)[0]
    body = section.split('<table class="results">', 1)[1].split("</tbody>\n</table>", 1)[0]
    return re.findall(r'<tr data-system="([^"]*)">', body)


def test_every_cell_is_mean_std_with_the_seed_count(page):
    html = page.read_text()
    assert "65.0 ± 1.0" in html and "0.51 ± 0.01" in html  # crnn F1_frm / ER_frm over 3 seeds
    assert "41.0 ± 1.4" in html  # gmm over 2 seeds
    # the fixture's crnn config changes max_epochs of the quick profile: its rows say so (issue 17)
    assert re.search(r'<td class="text" data-value="crnn">crnn</td>\s*<td class="text" data-value="custom · '
                     r'max_epochs=3">custom · max_epochs=3</td>'
                     r'\s*<td data-value="3">3</td>', html)


def test_best_value_respects_each_metrics_direction(page):
    html = page.read_text()
    best = re.findall(r'<td data-value="([^"]*)" class="best"', html)
    assert "65.0" in best  # F1_frm: crnn highest
    assert "0.31" in best  # ER_frm: gmm lowest (0.30, 0.32)
    assert "0.15" in best and "70.0" in best  # tags-demo: EER lowest is fnn, F1_tag highest is crnn
    assert "0.2" not in best


def test_missing_cells_are_shown_as_missing_and_nothing_is_averaged_across_datasets(page):
    html = page.read_text()
    # the HTML-named system has no event-based metrics: two missing cells, never a number
    row = html.split('data-system="&lt;script&gt;alert(1)&lt;/script&gt;"', 1)[1].split("</tr>", 1)[0]
    assert row.count('class="missing"') == 2 and "—" in row
    headers = " ".join(re.findall(r"<th[^>]*>([^<]*)</th>", html)).lower()
    assert "overall" not in headers and "average" not in headers and "rank" not in headers
    assert 'data-dataset="synth"' in html and 'data-dataset="tags-demo"' in html
    assert "EER ↓" in html and "F1_tag ↑" in html


def test_pitch_shift_changes_per_system_on_page_and_in_report(page, runs, tmp_path):
    html = page.read_text()
    table = html.split('<table class="shifts">', 1)[1].split("</table>", 1)[0]
    assert "<th>-1 qt</th><th>+1 qt</th>" in table
    assert "2.0 ± 1.0" in table  # crnn at -1: |ΔF1_frm| 1, 2, 3 over seeds 0-2
    assert "1.5 ± 0.7" in table  # gmm at -1: seeds 0, 1
    write_reports(summarize(load_records(runs)), tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "| system | variant | -1 qt | +1 qt |" in md
    assert "| crnn | custom · max_epochs=3 | 2.0 ± 1.0 | 2.0 ± 0.0 |" in md


def test_rows_link_to_paper_and_to_their_records(page, runs):
    html = page.read_text()
    assert 'href="https://arxiv.org/abs/1702.06286"' in html
    links = re.findall(r'<a href="([^"]+\.json)">', html)
    assert len(links) == 8
    for link in links:
        assert not link.startswith("/") and (page.parent / unquote(unescape(link))).resolve().exists()
    for provenance in ("0123456789ab", "f00dfeed", "cpu x86_64", "torch 2.13.0", "&#34;max_epochs&#34;: 3"):
        assert provenance in html


def test_page_is_self_contained(page):
    html = page.read_text()
    assert not re.search(r'<(script|img|link|iframe)[^>]+(src|href)=', html)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html  # only in-page references
    assert html.count("<svg") == 4  # activity, class-wise F1, training curves for synth; tagging has class-wise only
    assert "Event activity" in html and "Class-wise F1" in html and "Training curves" in html


def test_html_in_a_system_name_is_escaped_everywhere(page):
    html = page.read_text()
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_paper_vs_measured_section_for_a_stand_in(page):
    html = page.read_text()
    assert "Paper vs measured: Table II of cakir2017 (stand-in data)" in html
    assert "synth is a stand-in for TUT-SED Synthetic 2016" in html
    paper_section = html.split("Paper vs measured", 1)[1].split("</table>", 1)[0]
    assert "66.4 ± 0.6" in paper_section and "65.0 ± 1.0" in paper_section  # published vs measured CRNN F1_frm
    assert "Δ" not in paper_section  # different data: no differences


def test_report_tables_come_from_the_same_rows_as_the_page(runs, page, tmp_path):
    records = load_records(runs)
    written = write_reports(summarize(records), tmp_path)
    assert [p.name for p in written] == ["results.md", "results.csv", "cakir2017.md"]
    md = (tmp_path / "results.md").read_text()
    html = page.read_text()
    for cell in ("65.0 ± 1.0", "0.51 ± 0.01", "41.0 ± 1.4"):
        assert cell in md and cell in html


def test_datasets_without_a_headline_metric_keep_their_row_order(page):
    assert "Ranked by" not in page.read_text()


def test_empty_runs_render_a_hint():
    html = render([])
    assert "No run records yet" in html


# --------------------------------------------------------------------------- the real browser

def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no chromium + chromedriver on this machine (Debian: apt-get install chromium chromium-driver); "
                    "the browser test needs them")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1800"):
        options.add_argument(argument)
    options.binary_location = chromium
    return webdriver.Chrome(options=options, service=Service(driver))


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def _visible_systems(browser, dataset):
    from selenium.webdriver.common.by import By

    section = browser.find_element(By.CSS_SELECTOR, f'section[data-dataset="{dataset}"]')
    rows = section.find_elements(By.CSS_SELECTOR, "table.results > tbody > tr")
    return [row.find_element(By.TAG_NAME, "td").text for row in rows if row.is_displayed()]


def test_in_chromium_sort_filter_tabs_escape_and_screenshot(browser, page, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    browser.get(page.resolve().as_uri())
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # the <script> in a system name never ran
    assert _visible_systems(browser, "synth") == [XSS, "crnn", "gmm"]  # rendered as text, summary order
    section = browser.find_element(By.CSS_SELECTOR, 'section[data-dataset="synth"]')

    def header(name):
        return next(th for th in section.find_elements(By.CSS_SELECTOR, "table.results > thead th")
                    if th.text.split(" ")[0] == name)

    header("ER_frm").click()  # lower is better: best first
    assert _visible_systems(browser, "synth") == ["gmm", "crnn", XSS]
    header("F1_frm").click()  # higher is better: best first
    assert _visible_systems(browser, "synth") == ["crnn", XSS, "gmm"]
    header("F1_frm").click()  # again: reversed
    assert _visible_systems(browser, "synth") == ["gmm", XSS, "crnn"]
    header("ER_event").click()  # the row without event metrics stays last either way
    assert _visible_systems(browser, "synth")[-1] == XSS
    header("ER_event").click()
    assert _visible_systems(browser, "synth")[-1] == XSS

    box = section.find_element(By.CSS_SELECTOR, "input.filter")
    box.send_keys("GM")
    assert _visible_systems(browser, "synth") == ["gmm"]
    box.clear()
    box.send_keys("script")
    assert _visible_systems(browser, "synth") == [XSS]

    other = browser.find_element(By.CSS_SELECTOR, 'section[data-dataset="tags-demo"]')
    assert not other.is_displayed()  # tabs: one dataset at a time
    browser.find_element(By.ID, "tab-tags-demo").click()
    assert other.is_displayed() and not section.is_displayed()
    assert _visible_systems(browser, "tags-demo") == ["crnn", "fnn"]

    shot = tmp_path / "leaderboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_a_dataset_with_a_headline_metric_ranks_its_rows_on_it(tmp_path):
    """DESED is ranked on PSDS1 (its ``headline_metric``), best first, whatever the order of the records."""
    from sedbench.publish.summary import headline_metric

    assert headline_metric("desed") == "PSDS1" and headline_metric("synth") is None
    assert headline_metric("folder:mydata") is None
    for system, psds1 in (("crnn", 0.21), ("cnn", 0.35), ("gmm", 0.05)):
        record = _record("desed", system, 0, {**_events(50.0, 0.6), "PSDS1": psds1, "PSDS2": 0.5})
        write_record(tmp_path / "runs" / "desed" / system / f"{system}-seed0.json", record)
    html = render(load_records(tmp_path / "runs"))
    assert _results_rows(html, "desed") == ["cnn", "crnn", "gmm"]
    assert "Ranked by PSDS1" in html.split('data-dataset="desed"', 1)[1]
