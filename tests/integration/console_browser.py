#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# console_browser.py — the operator's console in a real browser (headless Chromium from Debian,
# driven by python3-selenium), for test_provd_console.sh: sign in, find a device and revoke it
# with the keyboard alone, see it revoked in the list and the audit trail, export the audit,
# check that a hostile device note renders as text, the phone width, sign out. One line per
# check on stdout ("ok DESC" / "FAIL DESC: why"); screenshots of each view into SHOTS.
import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["CONSOLE_URL"]          # https://127.0.0.1:PORT
TOKEN = os.environ["CONSOLE_TOKEN"]      # alice's operator token
DEVICE = os.environ["CONSOLE_DEVICE"]    # the enrolled device to revoke
PREFIX = os.environ["CONSOLE_PREFIX"]    # a prefix that finds it first
XSS = os.environ["CONSOLE_XSS"]          # the device whose note is hostile
XSS_NOTE = os.environ["CONSOLE_XSS_NOTE"]
SHOTS = os.environ.get("CONSOLE_SHOTS", "")
OUT = os.environ["CONSOLE_OUT"]          # a folder for what the shell checks after
fails = 0


def check(desc, cond, why=""):
    global fails
    if cond:
        print("ok " + desc)
    else:
        fails += 1
        print("FAIL %s%s" % (desc, ": " + why if why else ""))
    sys.stdout.flush()


def shot(name):
    if SHOTS:
        # Small PNGs for docs/console/: the viewport only.
        driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def wait(cond, what, t=10):
    try:
        # A view redraws itself whole: an element read mid-redraw is stale, read it again.
        return WebDriverWait(driver, t, ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except TimeoutException:
        check("wait for " + what, False, "timed out; page: " + driver.find_element(By.ID, "main").text[:200])
        return None


def text_of(id_):
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : null", id_)


def keys(*k):
    """Type into whatever has the focus: the keyboard alone."""
    driver.switch_to.active_element.send_keys(*k)


def active():
    return driver.switch_to.active_element


opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--ignore-certificate-errors", "--window-size=1280,800", "--hide-scrollbars",
          "--no-first-run", "--disable-extensions", "--force-device-scale-factor=1"):
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
opts.set_capability("acceptInsecureCerts", True)
service = Service(executable_path="/usr/bin/chromedriver")
driver = webdriver.Chrome(options=opts, service=service)
driver.set_window_size(1280, 800)
try:
    # ---- sign in, with the keyboard ----
    driver.get(URL + "/console/")
    wait(lambda d: d.find_elements(By.ID, "token"), "the sign-in form")
    shot("signin")
    check("the token field has the focus", active().get_attribute("id") == "token")
    keys("scop_wrong-token-000000000000000000000000000000", Keys.ENTER)
    wait(lambda d: "unauthorized" in d.find_element(By.ID, "login-msg").text, "the refusal")
    check("a wrong token is refused on the page", "unauthorized" in text_of("login-msg"))
    tok = driver.find_element(By.ID, "token")
    tok.clear()
    tok.send_keys(TOKEN, Keys.ENTER)
    wait(lambda d: d.find_elements(By.ID, "counts"), "the overview")
    check("signed in as alice", "alice" in text_of("who"), text_of("who"))
    check("the overview counts the active devices",
          int(driver.find_element(By.CSS_SELECTOR, "#c-active .n").text) > 1000,
          driver.find_element(By.ID, "counts").text)
    check("two charts drawn", len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) == 2)
    check("the profiles chart has a bar per hour",
          len(driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")) == 72)
    check("the refusals table is there", driver.find_elements(By.ID, "refusals") != [])
    check("the session cookie is out of the script's reach (HttpOnly)",
          driver.execute_script("return document.cookie") == "")
    cookies = {c["name"]: c for c in driver.get_cookies()}
    c = cookies.get("__Host-sc_console")
    check("the session cookie: Secure, HttpOnly, SameSite=Strict",
          c is not None and c.get("secure") and c.get("httpOnly") and c.get("sameSite") == "Strict",
          repr(c))
    if c:
        with open(os.path.join(OUT, "cookie"), "w") as f:
            f.write(c["value"])
    shot("overview")

    # ---- search and revoke, with the keyboard alone ----
    driver.get(URL + "/console/#/devices")
    wait(lambda d: d.find_elements(By.ID, "q-prefix"), "the search form")
    check("the prefix field has the focus", active().get_attribute("id") == "q-prefix")
    keys(PREFIX, Keys.ENTER)
    # The unfiltered list drawn before the search has rows, the typed prefix and (the hash is set
    # at once) the new URL too: only rows that all begin with the prefix are the search's. A
    # fixed 0.2 s after the old list was all the filtered one had to come.
    wait(lambda d: (lambda rows: rows and all(r.text.startswith(PREFIX) for r in rows))(
         d.find_elements(By.CSS_SELECTOR, "#devices a.dev")) and
         "#/devices?prefix=" in d.current_url, "the search result")
    first = driver.find_elements(By.CSS_SELECTOR, "#devices a.dev")
    check("the search finds the device first", first and first[0].text == DEVICE,
          first[0].text if first else "no rows")
    shot("devices")
    for _ in range(4):  # prefix → status → expiry → Search → the first device
        keys(Keys.TAB)
    check("Tab reaches the first device", active().text == DEVICE, active().text)
    keys(Keys.ENTER)
    wait(lambda d: text_of("d-id") == DEVICE, "the device page")
    check("the device page shows it active", text_of("d-status") == "active", text_of("d-status"))
    check("its certificate is listed", len(driver.find_elements(By.CSS_SELECTOR, "#certs tbody tr td")) >= 4)
    shot("device")
    keys(Keys.TAB)
    check("Tab reaches the reason", active().get_attribute("id") == "reason")
    keys("lost in transit", Keys.ENTER)
    wait(lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
    check("the confirmation names the device", text_of("confirm-id") == DEVICE)
    check("Cancel has the focus (the safe choice)", active().get_attribute("id") == "confirm-cancel")
    shot("revoke-confirm")
    keys(Keys.ENTER)  # Cancel
    time.sleep(0.3)
    check("cancelled: still active", text_of("d-status") == "active")
    check("the focus is back on the reason", active().get_attribute("id") == "reason")
    keys(Keys.ENTER)
    wait(lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation again")
    keys(Keys.TAB)
    check("Tab reaches Revoke", active().get_attribute("id") == "confirm-revoke")
    keys(Keys.ENTER)
    wait(lambda d: text_of("d-status") == "revoked", "the revoked status")
    check("the device page shows it revoked", text_of("d-status") == "revoked")
    check("… with the reason", text_of("d-reason") == "lost in transit", text_of("d-reason"))
    trail = driver.find_element(By.ID, "device-audit").text
    check("its audit trail: revoked by alice", "device-revoked" in trail and "operator alice" in trail, trail[-300:])

    # ---- the list and the audit log ----
    driver.get(URL + "/console/#/devices?prefix=" + PREFIX + "&status=revoked")
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#devices a.dev"), "the revoked list")
    rows = driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
    check("the list shows it revoked", rows and DEVICE in rows[0].text and "revoked" in rows[0].text,
          rows[0].text if rows else "")
    driver.get(URL + "/console/#/audit?event=device-revoked")
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#audit tbody tr td"), "the audit log")
    top = driver.find_element(By.CSS_SELECTOR, "#audit tbody tr").text
    check("the audit log: the revocation, by alice", DEVICE in top and "operator alice" in top, top)
    shot("audit")
    csv = driver.execute_async_script(
        "const done = arguments[0];"
        "fetch('/console/api/audit?event=device-revoked&format=csv').then(r => r.text()).then(done)")
    with open(os.path.join(OUT, "export.csv"), "w") as f:
        f.write(csv)
    check("the CSV export has the revocation", csv.startswith('"seq","at","actor"') and DEVICE in csv, csv[:200])

    # ---- hostile values render as text ----
    driver.execute_script("window.__probe = 1")
    driver.get(URL + "/console/#/device/" + XSS)
    wait(lambda d: text_of("d-id") == XSS, "the hostile device")
    note = driver.find_element(By.ID, "d-note")
    check("the note is shown as the very text", note.get_attribute("textContent") == XSS_NOTE,
          note.get_attribute("textContent"))
    check("no element came out of it", note.find_elements(By.XPATH, "./*") == [] and
          driver.find_elements(By.CSS_SELECTOR, "main img, main script") == [])
    check("no script of it ran",
          driver.execute_script("return window.__xss === undefined && window.__probe === 1"))
    driver.get(URL + "/console/#/devices?prefix=" + XSS)
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#devices td.note"), "the hostile list")
    check("in the list too: text, no element",
          driver.find_element(By.CSS_SELECTOR, "#devices td.note").get_attribute("textContent") == XSS_NOTE and
          driver.find_elements(By.CSS_SELECTOR, "main img") == [] and
          driver.execute_script("return window.__xss === undefined"))

    driver.get(URL + "/console/#/policy")
    wait(lambda d: d.find_elements(By.ID, "policy"), "the policy")
    check("the policy names the network", "consolenet" in text_of("policy"))
    shot("policy")

    # ---- a phone's width ----
    driver.set_window_size(390, 844)
    for view, probe in (("overview", "counts"), ("devices", "devices"), ("device/" + DEVICE, "d-id"),
                        ("audit", "audit"), ("policy", "policy")):
        driver.get(URL + "/console/#/" + view)
        wait(lambda d: d.find_elements(By.ID, probe), "the %s view at 390 px" % view)
        wide = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check("390 px: the %s view fits the width (overflow %s px)" % (view, wide), wide <= 1)
        if view in ("overview", "devices"):
            shot("phone-" + view)
    driver.set_window_size(1280, 800)

    # ---- sign out ----
    driver.get(URL + "/console/#/overview")
    wait(lambda d: d.find_elements(By.ID, "counts"), "the overview again")
    driver.find_element(By.ID, "signout").send_keys(Keys.ENTER)
    wait(lambda d: d.find_elements(By.ID, "token"), "the sign-in form after sign-out")
    status = driver.execute_async_script(
        "const done = arguments[0];"
        "fetch('/console/api/overview').then(r => r.json().then(j => done([r.status, j.error])))")
    check("after sign-out the API refuses: 401 unauthorized", status == [401, "unauthorized"], repr(status))
finally:
    driver.quit()
print("browser: %d failed" % fails)
sys.exit(1 if fails else 0)
