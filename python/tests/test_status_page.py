"""The status page (status_page.py) in a real headless Chromium against `mcp-push serve --transport http`:
what a person sees (runs, a failed delivery's masked error), the retry button, the sign-in with the token,
and the CSRF and auth rules a script of another site meets."""

from __future__ import annotations

import httpx2
from selenium.webdriver.common.by import By

from .browser import chromium, click, read, screenshot, wait_until  # noqa: F401  (fixture)
from .local_server import Behaviour
from .mcp_helpers import http_server, ntfy_env, webhook_env

SECRET = "hk_11aa22bb33cc44dd"
TOKEN = "status-page-token-3f9d"


def env_of(vendor, **extra: str) -> dict[str, str]:
    vendor.routes["/hook"] = Behaviour(status=500, body=f"webhook down, key {SECRET}")
    return {**ntfy_env(vendor), **webhook_env(vendor), "WEBHOOK_URL": f"{vendor.url}/hook?key={SECRET}",
            "MCP_PUSH_RETRY_ATTEMPTS": "1", **extra}


def report(root: str, headers: dict[str, str] | None = None) -> None:
    with httpx2.Client(timeout=60) as client:
        for event, data in (("start", {}), ("update", {"progress": 0.6, "step": "deploy"})):
            answer = client.post(root + "/v1/events", json={"run_id": "ui-run", "event": event, "message": event,
                                                            "data": data, "wait": True}, headers=headers or {})
            assert answer.status_code == 200, answer.text


def loaded(driver) -> bool:
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "yes"


def test_a_person_sees_the_run_and_the_failed_delivery_and_retries_it_once(vendor, chromium):  # noqa: F811
    with http_server(env_of(vendor)) as url:
        root = url.removesuffix("/mcp")
        report(root)
        chromium.get(root + "/")
        wait_until(chromium, loaded)

        def view(d):
            run = d.find_element(By.CSS_SELECTOR, '.run[data-run="ui-run"]')
            chips = {c.get_attribute("data-channel"): c.get_attribute("data-state")
                     for c in run.find_elements(By.CSS_SELECTOR, ".chip")}
            return run.text, chips, [f.text for f in d.find_elements(By.CSS_SELECTOR, ".failed-delivery")]

        run_text, chips, failed = read(chromium, view)
        assert "running" in run_text and "60%" in run_text and "deploy" in run_text
        assert chips == {"ntfy": "delivered", "webhook": "failed"}
        assert len(failed) == 2 and all("HTTP 500" in f and "webhook down" in f for f in failed)
        assert SECRET not in chromium.page_source
        # Readable on a phone: nothing wider than the screen.
        assert chromium.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(chromium, "status-page.png")

        vendor.routes["/hook"] = Behaviour(status=200, body="{}")
        before = [r.path for r in vendor.received].count("/hook?key=" + SECRET)
        click(chromium, ".failed-delivery button.retry")
        wait_until(chromium, lambda d: any("retried" in f.text for f in d.find_elements(By.CSS_SELECTOR,
                                                                                         ".failed-delivery")))
        wait_until(chromium, lambda d: [r.path for r in vendor.received].count("/hook?key=" + SECRET) == before + 1)
        # The claimed delivery cannot be retried again: no button, and the endpoint refuses.
        retried = read(chromium, lambda d: [
            (bool(f.find_elements(By.CSS_SELECTOR, "button.retry")), f.get_attribute("data-delivery"))
            for f in d.find_elements(By.CSS_SELECTOR, ".failed-delivery") if "retried" in f.text])
        assert len(retried) == 1 and not retried[0][0]
        delivery = int(retried[0][1])
        with httpx2.Client(timeout=30) as client:
            again = client.post(root + "/status/retry", json={"delivery_id": delivery},
                                headers={"Origin": root})
        assert again.status_code == 409 and "not a failed delivery that was not retried yet" in again.json()["error"]
        screenshot(chromium, "status-page-retried.png")
    assert [r.path for r in vendor.received].count("/hook?key=" + SECRET) == before + 1


def test_with_a_token_the_page_asks_for_it_once_and_keeps_an_httponly_session(vendor, chromium):  # noqa: F811
    with http_server(env_of(vendor, MCP_PUSH_HTTP_TOKEN=TOKEN)) as url:
        root = url.removesuffix("/mcp")
        report(root, {"Authorization": f"Bearer {TOKEN}"})
        chromium.get(root + "/")
        assert chromium.find_elements(By.ID, "token") and not chromium.find_elements(By.ID, "runs")
        chromium.find_element(By.ID, "token").send_keys("wrong")
        chromium.find_element(By.CSS_SELECTOR, "form button").click()
        wait_until(chromium, lambda d: d.find_elements(By.ID, "problem"))
        assert "not the server's token" in chromium.find_element(By.ID, "problem").text
        chromium.find_element(By.ID, "token").send_keys(TOKEN)
        chromium.find_element(By.CSS_SELECTOR, "form button").click()
        wait_until(chromium, lambda d: d.find_elements(By.ID, "runs") and loaded(d))
        assert chromium.find_elements(By.CSS_SELECTOR, '.run[data-run="ui-run"]')
        assert "mcp_push_session" not in chromium.execute_script("return document.cookie")  # HttpOnly
        [cookie] = [c for c in chromium.get_cookies() if c["name"] == "mcp_push_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        chromium.refresh()  # the session lasts: no form again
        wait_until(chromium, loaded)
        with httpx2.Client(timeout=30) as client:
            anonymous = client.get(root + "/status/data")
            with_token = client.get(root + "/status/data", headers={"Authorization": f"Bearer {TOKEN}"})
            no_origin = client.post(root + "/status/retry", json={"delivery_id": 1},
                                    headers={"Authorization": f"Bearer {TOKEN}"})
            foreign = client.post(root + "/status/login", data={"token": TOKEN},
                                  headers={"Origin": "https://evil.example"})
            forged = client.post(root + "/status/retry", json={"delivery_id": 1},
                                 headers={"Origin": root, "Cookie": "mcp_push_session=forged"})
    assert anonymous.status_code == 401 and with_token.status_code == 200
    assert [r["run_id"] for r in with_token.json()["runs"]] == ["ui-run"]
    assert no_origin.status_code == 403 and "Origin" in no_origin.json()["error"]
    assert foreign.status_code == 403 and forged.status_code == 401
    assert SECRET not in with_token.text
