"""`make team-screenshot`: runs `make demo-team` and, while its MLflow server is up, photographs the team's
experiment in MLflow's UI with a headless Chromium (docs/mlflow-team-*.png, shown in the README)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_team  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs"


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 720})
        page.goto(url + "/runs")
        # MLflow 3 opens on its GenAI pages; kr's runs are under "Model training"
        page.get_by_text("Model training").first.click()
        page.get_by_text("testuser/m1").first.wait_for(timeout=60_000)  # the runs table has rendered
        close = page.get_by_label("Close", exact=False)
        if close.count():
            close.last.click()  # the assistant's side panel
        page.wait_for_timeout(1500)
        OUT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "mlflow-team-runs.png"))
        page.get_by_text("testuser/v1", exact=True).first.click()  # one run: its metrics, params and kr's tags
        page.get_by_text("validation.auc").first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(OUT / "mlflow-team-run.png"), full_page=True)
        browser.close()
    print(f"screenshots of {url}: {OUT}/mlflow-team-runs.png, {OUT}/mlflow-team-run.png")


if __name__ == "__main__":
    try:
        import playwright  # noqa: F401
    except ImportError:
        sys.exit("team-screenshot: needs Playwright and a Chromium: pip install playwright; apt install chromium")
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")):
        sys.exit("team-screenshot: no Chromium found; apt install chromium (Playwright's own download needs internet)")
    demo_team.main(after=shoot)
