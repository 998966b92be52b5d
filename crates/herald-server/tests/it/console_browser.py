"""Drives the herald console in Debian's Chromium through Playwright (no browser download).

Usage: console_browser.py BASE ADMIN_KEY TENANT_KEY FAILED_DELIVERY_ID [SCREENSHOT_DIR]

The server has one endpoint whose receiver now answers 200 and two failed deliveries to it
(FAILED_DELIVERY_ID is one). Prints one JSON object of what it saw; the Rust test judges it.
"""
import json
import sys
import urllib.request

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def publish(base, key, body):
    req = urllib.request.Request(f"{base}/v1/events", data=json.dumps(body).encode(), method="POST",
                                 headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)["id"]


def heading_once(page, prefix):
    """The page's heading once it starts with `prefix` (a swapped-in page arrives after the
    click returns), or whatever it says after the wait."""
    try:
        page.wait_for_function("p => (document.querySelector('main h1') || {}).textContent?.startsWith(p)", arg=prefix)
    except Exception:
        pass
    return page.locator("main h1").inner_text()


def main():
    base, admin, tenant, delivery = sys.argv[1:5]
    shots = sys.argv[5] if len(sys.argv) > 5 else None
    seen = {}
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.on("request", lambda r: requests.append(r.url))
        page = ctx.new_page()
        page.set_default_timeout(10_000)

        page.goto(f"{base}/ui/")
        seen["redirected_to_login"] = page.url.endswith("/ui/login")
        page.fill("#key", "not-a-key")
        page.click("button[type=submit]")
        seen["bad_key_message"] = page.locator("[role=alert]").inner_text()
        page.fill("#key", admin)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/ui/")
        seen["overview_heading"] = page.locator("h1").inner_text()
        # A full load would clear this: links and forms swap the page in place.
        page.evaluate("window.__same_document = 'kept'")

        page.click("nav >> text=Deliveries")
        page.select_option("select[name=state]", "failed")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/ui/deliveries?state=failed*")
        seen["failed_listed"] = page.locator(f"a[href='/ui/deliveries/{delivery}']").count()
        if shots:
            page.screenshot(path=f"{shots}/console-deliveries.png", full_page=True)

        page.click(f"a[href='/ui/deliveries/{delivery}']")
        page.wait_for_url(f"**/ui/deliveries/{delivery}")
        seen["attempt_rows"] = page.locator("table.attempts tbody tr.bad").count()
        if shots:
            page.screenshot(path=f"{shots}/console-attempts.png", full_page=True)
        seen["same_document"] = page.evaluate("window.__same_document || 'reloaded'")
        # Going back changes the address at once and the page when it has been fetched.
        page.go_back()
        page.wait_for_url("**/ui/deliveries?state=failed*")
        try:
            page.locator("form.filters").wait_for()
        except Exception:
            pass
        seen["back_lists_failed"] = page.locator(f"a[href='/ui/deliveries/{delivery}']").count()
        page.go_forward()
        page.wait_for_url(f"**/ui/deliveries/{delivery}")
        page.locator("table.attempts").wait_for()

        # A form whose token was tampered with is refused.
        page.evaluate("document.querySelector('main input[name=csrf]').value = 'forged'")
        page.click("main form button[type=submit]")
        seen["forged_status_page"] = heading_once(page, "403")
        page.goto(f"{base}/ui/deliveries/{delivery}")

        page.click("main form button:text('Retry')")
        seen["retry_notice"] = page.locator(".notice").inner_text()
        for _ in range(50):
            if page.locator(".st-succeeded").count():
                break
            page.wait_for_timeout(200)
            page.reload()
        seen["retried_state"] = page.locator("dl.facts .state").inner_text()

        page.goto(f"{base}/ui/deliveries?state=failed")
        page.evaluate("window.__same_document = 'kept'")
        page.click("form.bulk button[type=submit]")
        seen["dry_run_count"] = page.locator("#matched").inner_text()
        page.click("main form button[type=submit]")
        seen["bulk_notice"] = page.locator(".notice").inner_text()

        page.click("nav >> text=Live tail")
        page.wait_for_selector("#tail-status:text-is('live')")
        event_id = publish(base, admin, {"type": "ticket.created", "payload": {"from": "browser"}})
        page.wait_for_selector(f"#tail a:text('{event_id}')")
        seen["tail_shows_event"] = True
        seen["tail_same_document"] = page.evaluate("window.__same_document || 'reloaded'")

        page.click("header form button[type=submit]")
        page.wait_for_url(f"{base}/ui/login")
        page.goto(f"{base}/ui/deliveries")
        seen["after_logout"] = page.url

        other = browser.new_context()
        other.on("request", lambda r: requests.append(r.url))
        tpage = other.new_page()
        tpage.goto(f"{base}/ui/login")
        tpage.fill("#key", tenant)
        tpage.click("button[type=submit]")
        tpage.wait_for_url(f"{base}/ui/")
        resp = tpage.goto(f"{base}/ui/deliveries/{delivery}")
        seen["tenant_sees_other_delivery"] = resp.status
        tpage.goto(f"{base}/ui/deliveries")
        seen["tenant_list_has_it"] = tpage.locator(f"a[href='/ui/deliveries/{delivery}']").count()
        browser.close()
    seen["foreign_requests"] = [u for u in requests if not u.startswith(base + "/")]
    seen["requests"] = len(requests)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
