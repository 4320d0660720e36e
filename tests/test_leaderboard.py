"""The leaderboard page from fixture run records: content, escaping, self-containment, and a real browser."""

import re
import shutil
from html import unescape
from pathlib import Path
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
    assert re.search(r'<td class="text" data-value="crnn">crnn</td>\s*<td class="text variant" data-value="custom · '
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


def test_a_rows_records_and_config_open_in_a_dialog_outside_the_table(page):
    html = page.read_text()
    table = html.split('<table class="results">', 1)[1].split("</table></div>", 1)[0]
    assert "<pre>" not in table and "<details" not in table  # nothing in a row can stretch it
    ids = re.findall(r'<button type="button" class="open-details" data-dialog="([^"]+)"', table)
    assert ids == ["details-synth-1", "details-synth-2", "details-synth-3"]
    for dialog_id in ids:
        dialog = html.split(f'<dialog class="row-details" id="{dialog_id}"', 1)[1].split("</dialog>", 1)[0]
        assert "<pre>{" in dialog and "git commit" in dialog


def test_paper_values_sit_beside_measured_ones_only_on_the_papers_own_data(tmp_path):
    from sedbench.papers.published import format_published, load_published

    for seed, f1 in ((0, 60.0), (1, 62.0)):
        for dataset in ("tut2016", "synth"):
            record = _record(dataset, "crnn", seed, _events(f1, 0.5))
            record["profile"], record["config"] = "paper", {"name": "crnn"}
            write_record(tmp_path / "runs" / dataset / f"crnn-seed{seed}.json", record)
    html = render(load_records(tmp_path / "runs"))
    published = load_published("cakir2017")["datasets"]["tut2016"]["values"]["crnn"]
    own = html.split('data-dataset="tut2016"', 1)[1].split("</table></div>", 1)[0]
    for metric in ("F1_frm", "ER_frm"):
        assert (f'<span class="paper-value" title="published in Table II of cakir2017">paper '
                f'{format_published(tuple(published[metric]), metric)}</span>') in own
    assert "61.0 ± 1.4" in own  # the measured value stays the cell's value
    stand_in = html.split('data-dataset="synth"', 1)[1].split("</table></div>", 1)[0]
    assert "paper-value" not in stand_in  # synth stands in for other data: its published numbers are not its own


def test_a_row_whose_paper_has_no_address_links_a_search_for_its_title(tmp_path):
    record = _record("synth", "rare-crnn", 0, _events(50.0, 0.5))
    record["system"]["url"] = None
    record["system"]["citation"] = 'S. Amiriparian et al., "Deep Convolutional Recurrent Neural Network for Rare", 2018'
    write_record(tmp_path / "runs" / "synth" / "rare-seed0.json", record)
    html = render(load_records(tmp_path / "runs"))
    assert ('<a href="https://scholar.google.com/scholar?q=Deep+Convolutional+Recurrent+Neural+Network+for+Rare"'
            in html)


def test_every_class_has_a_lane_in_the_activity_plot_and_a_column_in_the_heatmap():
    from sedbench.pipeline.record import RunRecord
    from sedbench.publish import plots

    record = RunRecord.from_json(_record("synth", "crnn", 0, _events(60.0, 0.5)), None)
    record.excerpt = {**record.excerpt, "reference": [[0.5, 3.0, "car"]], "estimated": [[0.7, 2.8, "car"]]}
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", plots.activity([("crnn", [record])]))
    for label in LABELS:  # "bird singing" and "dog barking" are silent in this excerpt, and still get their lanes
        assert texts.count(label) == 2, texts  # in the ground truth panel and in the system's
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", plots.class_wise_f1([("crnn", [record]), ("gmm", [record])]))
    assert texts[:5] == [*LABELS, "crnn", "gmm"]  # one axis of classes (the dataset's order), one of rows: no legend
    assert texts[5:11] == ["60", "50", "40"] * 2  # every cell says its F1 (then the colour bar's ticks)


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


def _per_file(tp_by_file, n=10):
    return {f"f{i}": {"Ntp": float(tp), "Nsys": float(n), "Nref": float(n), "S": 0.0, "D": float(n - tp), "I": 0.0,
                      "Ntn": 0.0, "Nfp": float(n - tp), "Nfn": float(n - tp)} for i, tp in enumerate(tp_by_file)}


@pytest.fixture(scope="module")
def wide_page(tmp_path_factory):
    """Eight systems on synth with per-file counts (significance marks) and long variants, plus a second tab."""
    root = tmp_path_factory.mktemp("wide-runs")
    for number in range(8):
        record = _record("synth", f"system-{number}", 0, _events(60.0 - 3 * number, 0.5 + 0.02 * number),
                         config_hash=f"hash{number}")
        record["config"] = {"max_epochs": 3 + number, "learning_rate": 0.001, "conv_maps": 96, "name": "x"}
        record["metrics"]["frame"]["per_file"] = _per_file([9 - number // 3] * 12)
        write_record(root / "synth" / f"system-{number}-seed0.json", record)
    write_record(root / "tags-demo" / "crnn-seed0.json",
                 _record("tags-demo", "crnn", 0, {"F1_tag": 70.0, "EER": 0.20}, kind="tags"))
    out = tmp_path_factory.mktemp("wide-page") / "leaderboard.html"
    write_leaderboard(load_records(root), out)
    return out


def _set_width(browser, width: int, height: int = 900) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                   "deviceScaleFactor": 1, "mobile": width < 600})


def test_in_chromium_at_400_px_the_system_column_stays_and_only_the_table_scrolls(browser, wide_page, tmp_path):
    from selenium.webdriver.common.by import By

    _set_width(browser, 400)
    try:
        browser.get(wide_page.resolve().as_uri() + "#synth")
        script = browser.execute_script
        assert script("return document.documentElement.scrollWidth") <= 400  # no page-wide horizontal overflow
        section = browser.find_element(By.CSS_SELECTOR, 'section[data-dataset="synth"]')
        box = section.find_element(By.CSS_SELECTOR, "div.scroll")
        assert script("return arguments[0].scrollWidth", box) > script("return arguments[0].clientWidth", box) + 200
        first = section.find_element(By.CSS_SELECTOR, "table.results > tbody > tr > td")
        assert first.is_displayed() and first.text == "system-0"
        before = script("return arguments[0].getBoundingClientRect()", first)
        assert 0 <= before["left"] and before["right"] <= 400
        script("arguments[0].scrollLeft = 400", box)
        assert script("return arguments[0].scrollLeft", box) > 0
        after = script("return arguments[0].getBoundingClientRect()", first)
        assert after["left"] == pytest.approx(before["left"], abs=1)  # sticky: the system name stays in view
        marks = [m.text for m in section.find_elements(By.CSS_SELECTOR, "table.results sup.sig")]
        assert marks and set(marks) <= {"*", "n.s."} and "*" in marks
        heatmap = section.find_element(By.XPATH, ".//h3[text()='Class-wise F1']/following-sibling::figure[1]/*")
        assert heatmap.tag_name == "svg" and heatmap.size["width"] > 100 and heatmap.size["width"] <= 400
        assert heatmap.find_elements(By.TAG_NAME, "image")  # the heatmap's cells
        shot = tmp_path / "400.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_in_chromium_a_tab_opens_from_its_url_hash_and_a_row_opens_its_details(browser, wide_page):
    from selenium.webdriver.common.by import By

    browser.get(wide_page.resolve().as_uri() + "#tags-demo")
    tags = browser.find_element(By.CSS_SELECTOR, 'section[data-dataset="tags-demo"]')
    synth = browser.find_element(By.CSS_SELECTOR, 'section[data-dataset="synth"]')
    assert tags.is_displayed() and not synth.is_displayed()
    browser.find_element(By.ID, "tab-synth").click()
    assert synth.is_displayed() and browser.current_url.endswith("#synth")  # the open tab can be linked
    row = synth.find_element(By.CSS_SELECTOR, "table.results > tbody > tr")
    height = row.size["height"]
    row.find_element(By.CSS_SELECTOR, "button.open-details").click()
    dialog = browser.find_element(By.ID, "details-synth-1")
    assert dialog.is_displayed() and '"max_epochs": 3' in dialog.text and "git commit" in dialog.text
    assert row.size["height"] == height  # the details do not stretch the row
    dialog.find_element(By.CSS_SELECTOR, "form button").click()
    assert not dialog.is_displayed()


def screenshots(page: Path, out_dir: Path) -> list[Path]:
    """The committed leaderboard at 1400 and 400 px (`python tests/test_leaderboard.py`): reports/*.png."""
    browser = _browser()
    written = []
    try:
        for width, height in ((1400, 1000), (400, 900)):
            _set_width(browser, width, height)
            browser.get(page.resolve().as_uri())
            path = out_dir / f"leaderboard-{width}px.png"
            browser.save_screenshot(str(path))
            written.append(path)
    finally:
        browser.quit()
    return written


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    for path in screenshots(root / "leaderboard.html", root / "reports"):
        print(path)
