"""The service console in a real browser (headless Chromium through selenium): issue 14's
checks. Run by tools/console-test, which starts a server on a generated store.

Usage: console_browser_test.py BASE_URL NATIVE_HOST:PORT ORDERLOG_BINARY DATA_DIR TOKEN SCREENSHOT_DIR

Checks, each printed as ok/FAIL:
- sign in with a producer token; search a customer; the customer page lists every order the
  store has for them, with the statuses the API reports;
- open an order; the page shows the status, lines and timeline the API reports;
- an event appended through the native protocol (`orderlog append --server`) shows on the open
  page within 1 s, without a reload (the same DOM document);
- each agent action (note, cancel items, request return, receive return, refund, cancel order)
  records its event with actor kind agent and the agent's name, and the snapshot changes;
  a refused action shows the rule's message and stores nothing;
- a wrong token signs nobody in; the work queue and dashboard pages render;
- screenshots of the customer, order, queue and dashboard pages are saved.
"""
import json
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

base, native, binary, data, token, shots = sys.argv[1:7]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def api(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


options = Options()
for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"]:
    options.add_argument(arg)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
# A page in transition can answer any command with an error: waits retry through them.
wait = WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))


def text(css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def submit_action(name, fields):
    form = driver.find_element(By.ID, "action-" + name)
    for field, value in fields.items():
        box = form.find_element(By.NAME, field)
        box.clear()
        box.send_keys(value)
    return submit_and_wait(form.find_element(By.TAG_NAME, "button"))


def submit_and_wait(button):
    """Clicks `button` and waits for the new page (after a redirect, or a refusal) to have
    loaded with its flash message: a mark set on this page's window is gone on the next."""
    driver.execute_script("window.__before = true")
    button.click()
    wait.until(lambda d: d.execute_script(
        "return window.__before === undefined && document.readyState === 'complete' && !!document.getElementById('flash')"))
    return driver.find_element(By.ID, "flash")


try:
    # A wrong token signs nobody in.
    driver.get(base + "/")
    check("/console/login" in driver.current_url, "a browser without a token is sent to sign in")
    driver.find_element(By.ID, "agent").send_keys("Ada Agent")
    driver.find_element(By.ID, "token").send_keys("not-a-token-at-all")
    flash = submit_and_wait(driver.find_element(By.ID, "sign-in"))
    check("not one of the server's" in flash.text, "a wrong token is refused with a message")
    driver.get(base + "/console/login")
    driver.find_element(By.ID, "agent").send_keys("Ada Agent")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(lambda d: d.find_elements(By.ID, "q"))
    check("agent Ada Agent" in driver.page_source, "signed in as the agent named")

    # A customer with several orders.
    page = api("/orders?status=delivered&limit=50")
    customer = None
    for o in page["orders"]:
        listed = api("/customers/%s/orders?limit=100" % urllib.request.quote(o["customer_id"], safe=""))
        if listed["total"] >= 2:
            customer, expected = o["customer_id"], listed
            break
    check(customer is not None, "the generated store has a customer with several orders")
    driver.find_element(By.ID, "q").send_keys(customer)
    driver.find_element(By.ID, "find").click()
    wait.until(lambda d: d.find_elements(By.ID, "orders"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#orders tr[data-order]")
    shown = {r.get_attribute("data-order"): r.find_element(By.CSS_SELECTOR, "[data-field=status]").text for r in rows}
    want = {o["order_id"]: o["status"] for o in expected["orders"]}
    check(shown == want, "the customer page lists the customer's %d orders with the statuses the API reports" % len(want))
    driver.save_screenshot(shots + "/console-customer.png")

    # An order: status, lines and timeline as the store reports them.
    order_id = expected["orders"][0]["order_id"]
    driver.find_element(By.CSS_SELECTOR, "#orders tr[data-order='%s'] a" % order_id).click()
    wait.until(lambda d: d.find_elements(By.ID, "timeline"))
    snap = api("/orders/" + order_id)
    history = api("/orders/%s/events" % order_id)
    check(text("#status") == snap["status"], "the order page shows status %s" % snap["status"])
    skus = [r.get_attribute("data-sku") for r in driver.find_elements(By.CSS_SELECTOR, "#lines tr[data-sku]")]
    check(skus == [l["sku"] for l in snap["lines"]], "the order page shows its lines")
    seqs = [int(r.get_attribute("data-seq")) for r in driver.find_elements(By.CSS_SELECTOR, "#timeline tr[data-seq]")]
    check(sorted(seqs) == [e["seq"] for e in history["events"]], "the timeline shows every event (%d)" % len(seqs))
    driver.save_screenshot(shots + "/console-order.png")

    # Live: an event appended through the native protocol shows within 1 s, no reload.
    driver.execute_script("window.__sameDocument = 'yes'")
    version_before = int(text("#version"))
    note = {"order_id": order_id, "type": "NoteAdded", "actor": {"kind": "system", "id": "live-test"}, "data": {"text": "live from the native protocol"}}
    appended = time.monotonic()
    subprocess.run([binary, "import", "-", "--server", native, "--token", token], input=json.dumps(note) + "\n", text=True, check=True, capture_output=True)
    acknowledged = time.monotonic()
    try:
        # Read in the page (one script call): the live update replaces the element, and an
        # element fetched first could be gone by the time its text is read.
        WebDriverWait(driver, 1.0, poll_frequency=0.02).until(
            lambda d: d.execute_script("var v = document.getElementById('version'); return v ? v.textContent : ''") == str(version_before + 1))
        seen = time.monotonic()
        live = True
    except Exception:
        live, seen = False, time.monotonic()
    check(live and driver.execute_script("return window.__sameDocument") == "yes",
          "a native append shows on the open page without a reload, %.0f ms after its acknowledgement" % ((seen - acknowledged) * 1000))
    check("live from the native protocol" in driver.page_source, "the new event is in the timeline")

    # Agent actions on an order that can take them all: a fresh one, paid, one unit delivered.
    fresh = "CONSOLE-%d" % int(time.time() * 1000)
    events = [
        {"order_id": fresh, "type": "OrderPlaced", "data": {"customer_id": customer, "channel": "web", "currency": "JPY",
            "lines": [{"sku": "TEA", "qty": 3, "unit_price_minor": 1200}, {"sku": "CUP", "qty": 2, "unit_price_minor": 800}]}},
        {"order_id": fresh, "type": "PaymentAuthorized", "data": {"payment_id": "pay-1", "amount_minor": 5200}},
        {"order_id": fresh, "type": "PaymentCaptured", "data": {"payment_id": "pay-1", "amount_minor": 5200}},
        {"order_id": fresh, "type": "FulfillmentRequested", "data": {"fulfillment_id": "f-1", "location": "DC-1", "lines": [{"sku": "TEA", "qty": 1}]}},
        {"order_id": fresh, "type": "Shipped", "data": {"fulfillment_id": "f-1", "carrier": "UPS", "tracking_no": "1Z-CONSOLE-TEST"}},
        {"order_id": fresh, "type": "Delivered", "data": {"fulfillment_id": "f-1"}},
    ]
    subprocess.run([binary, "import", "-", "--server", native, "--token", token], input="".join(json.dumps(e) + "\n" for e in events),
                   text=True, check=True, capture_output=True)
    # Found by its tracking number.
    driver.get(base + "/")
    driver.find_element(By.ID, "q").send_keys("1Z-CONSOLE-TEST")
    driver.find_element(By.ID, "find").click()
    wait.until(lambda d: d.find_elements(By.ID, "timeline"))
    check(fresh in driver.current_url, "search by tracking number opens the order")
    check("¥" in driver.page_source or "JPY" in driver.page_source, "a yen order shows its money in yen")

    def last_event():
        return api("/orders/%s/events" % fresh)["events"][-1]

    steps = [
        ("note", {"text": "customer called about the cups"}, "NoteAdded", lambda s: True),
        ("cancel_items", {"sku": "CUP", "qty": "1", "reason": "changed mind"}, "ItemsCancelled",
         lambda s: next(l for l in s["lines"] if l["sku"] == "CUP")["cancelled"] == 1),
        ("request_return", {"return_id": "RET-1", "sku": "TEA", "qty": "1", "reason": "too strong"}, "ReturnRequested", lambda s: s["return_status"] == "requested"),
        ("receive_return", {"return_id": "RET-1"}, "ReturnReceived", lambda s: s["return_status"] == "received"),
        ("refund", {"refund_id": "RF-1", "amount": "1200", "payment_id": "pay-1", "return_id": "RET-1"}, "RefundIssued",
         lambda s: s["money"]["refunded_minor"] == 1200),
    ]
    for name, fields, etype, holds in steps:
        before = api("/orders/" + fresh)["version"]
        flash = submit_action(name, fields)
        e = last_event()
        snap = api("/orders/" + fresh)
        check("recorded" in flash.text and e["type"] == etype and e["actor"] == {"kind": "agent", "id": "Ada Agent"}
              and snap["version"] == before + 1 and holds(snap),
              "agent action %s records %s by agent Ada Agent and the snapshot shows it" % (name, etype))
    # A refused action: a refund past what was paid. The rule's message, nothing stored.
    before = api("/orders/" + fresh)["version"]
    flash = submit_action("refund", {"refund_id": "RF-2", "amount": "999999", "payment_id": "pay-1", "return_id": ""})
    check("over_refund" in flash.text and api("/orders/" + fresh)["version"] == before, "a refused action shows the rule (%s) and stores nothing" % flash.text[:60])
    flash = submit_action("cancel_order", {"reason": "fraud check"})
    e = last_event()
    check(e["type"] == "OrderCancelled" or "Refused" in flash.text, "cancel the order: recorded, or refused by a rule with its message")

    # Queue and dashboard.
    driver.get(base + "/console/queues?status=delivered&hours=0")
    wait.until(lambda d: d.find_elements(By.ID, "queue"))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#queue tr")) > 1, "the work queue lists delivered orders")
    driver.save_screenshot(shots + "/console-queue.png")
    driver.get(base + "/console/dashboard")
    wait.until(lambda d: d.find_elements(By.ID, "chart-orders"))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#chart-orders svg rect")) > 0, "the dashboard draws orders per day")
    driver.save_screenshot(shots + "/console-dashboard.png")
finally:
    driver.quit()

print("%d checks failed" % len(failures) if failures else "all console checks passed")
sys.exit(1 if failures else 0)
