"""The web console in a real browser (headless Chromium driven by Selenium).

Run by Tests/AgentOSIntegrationTests/ConsoleBrowserTests.swift against a real cluster; it
reads what it needs from the environment (CONSOLE_URL, ADMIN_EMAIL, ADMIN_PASSWORD,
VIEWER_EMAIL, VIEWER_PASSWORD, CHROMIUM, CHROMEDRIVER, WORK_DIR, SCREENSHOTS) and exits 0
when every check passed. Every wait is on a condition with a deadline.
"""

import os
import signal
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

FINAL = ("succeeded", "failed", "timed_out", "cancelled")
URL = os.environ["CONSOLE_URL"].rstrip("/")
WORK = os.environ["WORK_DIR"]
SCREENSHOTS = os.environ.get("SCREENSHOTS", WORK)


def on_term(signum, frame):
    # The test ends us with SIGTERM on a timeout: quit the browser on the way out.
    raise SystemExit(f"stopped by signal {signum}")


signal.signal(signal.SIGTERM, on_term)

options = Options()
options.binary_location = os.environ["CHROMIUM"]
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--disable-extensions", "--disable-background-networking", "--disable-sync",
                 "--window-size=1280,900", f"--user-data-dir={WORK}/chromium-profile"):
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(options=options, service=Service(
    executable_path=os.environ["CHROMEDRIVER"], log_output=f"{WORK}/chromedriver.log"))
browser_log = []


def step(text):
    print(f"step: {text}", flush=True)


def fail(text):
    raise AssertionError(text)


def body_text():
    try:
        return driver.find_element(By.TAG_NAME, "body").text[:3000]
    except Exception as error:  # noqa: BLE001 - only for the failure message
        return f"(no page text: {error})"


def wait(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - the condition may not hold yet
            last = error
        time.sleep(0.1)
    fail(f"timed out after {timeout} s waiting for {what} (last error: {last})\n--- page ---\n{body_text()}")


def by_id(name):
    return driver.find_element(By.ID, name)


def visible(name):
    found = driver.find_elements(By.ID, name)
    return found[0] if found and found[0].is_displayed() else None


def shot(name):
    path = os.path.join(SCREENSHOTS, f"console-{name}.png")
    driver.save_screenshot(path)
    print(f"screenshot: {path}", flush=True)


def log_in(email, password):
    wait(lambda: visible("login"), "the login form")
    by_id("email").clear()
    by_id("email").send_keys(email)
    by_id("password").send_keys(password)
    by_id("login-button").click()
    wait(lambda: visible("logout"), f"{email} to be logged in")


def go(hash_route):
    driver.execute_script("location.hash = arguments[0]", hash_route)


def open_project(name):
    go("#/projects")
    link = wait(lambda: driver.find_element(By.CSS_SELECTOR, f'a.project-link[data-project="{name}"]'), "the project list")
    link.click()
    wait(lambda: driver.find_elements(By.ID, "jobs-holder"), f"the page of project {name}")


def submit(code, inputs="{}"):
    """Fills the submit form with `code` and submits it; the id of the job from the page's URL."""
    wait(lambda: visible("code"), "the submit form")
    driver.execute_script("arguments[0].value = arguments[1]", by_id("code"), code)
    driver.execute_script("arguments[0].value = arguments[1]", by_id("inputs"), inputs)
    by_id("submit-job").click()
    wait(lambda: driver.execute_script("return location.hash").startswith("#/jobs/"), "the job's page after submitting")
    wait(lambda: visible("job-status"), "the job's status")
    return driver.execute_script("return decodeURIComponent(location.hash.slice(7))")


def job_state():
    """The shown status and output, read together."""
    return driver.execute_script("""
        const badge = document.querySelector('#job-status [data-status]');
        return [badge ? badge.dataset.status : null, document.getElementById('stdout').textContent,
                document.getElementById('result').textContent];
    """)


def run():
    # 1. Log in as the admin: the page and its session.
    step("login page")
    driver.get(URL + "/")
    wait(lambda: visible("login"), "the login form")
    shot("login")
    log_in(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])
    stored = driver.execute_script("return [localStorage.length, sessionStorage.length, document.cookie]")
    if stored != [0, 0, ""]:
        fail(f"the console stored something: {stored}")

    # 2. A job whose output is printed over 10 seconds (long enough for a loaded machine's
    # browser to render it while the job runs): lines appear while it runs.
    step("live output")
    open_project("default")
    wait(lambda: visible("submit-link"), "the submit link for the admin").click()
    ticking = ("import time\n"
               "def main():\n"
               "    for i in range(10):\n"
               "        print(f'tick {i}', flush=True)\n"
               "        time.sleep(1)\n"
               "    return 'done'\n")
    live_job = submit(ticking)
    if "token" in driver.current_url.lower():
        fail(f"a token in the URL: {driver.current_url}")
    seen_live = []

    def ended_after_live_lines():
        status, stdout, _ = job_state()
        lines = stdout.count("tick ")
        if status not in FINAL and 1 <= lines < 10:
            seen_live.append((status, lines))
        return status in FINAL

    wait(ended_after_live_lines, "the ticking job to end", timeout=120)
    # The status, the output and the result are drawn as their events come: wait for all three.
    wait(lambda: '"done"' in job_state()[2] and "tick 9" in job_state()[1], "the ticking job's result and whole output", timeout=60)
    status, stdout, result = job_state()
    if status != "succeeded" or "tick 9" not in stdout or '"done"' not in result:
        fail(f"the ticking job: {status}, {stdout!r}, {result!r}")
    if not seen_live:
        fail("no output line was shown before the job ended")
    print(f"output seen while running: {seen_live[0]} … {seen_live[-1]}", flush=True)
    shot("job")

    # 3. The job list shows it, with its status.
    step("job list")
    open_project("default")
    wait(lambda: driver.find_element(By.CSS_SELECTOR, f'#jobs a[data-job="{live_job}"]'), "the job in the list")

    # 4. Cancel a long job from its page.
    step("cancel")
    wait(lambda: visible("submit-link"), "the submit link").click()
    submit("import time\nfor i in range(600):\n    print('waiting', i, flush=True)\n    time.sleep(0.5)\n")
    wait(lambda: job_state()[0] == "running" and "waiting 0" in job_state()[1], "the long job to run")
    wait(lambda: visible("cancel"), "the cancel button").click()
    wait(lambda: job_state()[0] == "cancelled", "the job to be cancelled")
    wait(lambda: not visible("cancel"), "the cancel button to go")

    # 5. Hostile output is text.
    step("hostile output")
    open_project("default")
    wait(lambda: visible("submit-link"), "the submit link").click()
    submit("print('<script>alert(1)</script><img src=x onerror=alert(3)>')\n"
           "def main():\n    return '<b>bold</b><script>alert(2)</script>'\n")
    wait(lambda: job_state()[0] in FINAL, "the hostile job to end")
    status, stdout, result = job_state()
    if status != "succeeded" or "<script>alert(1)</script><img src=x onerror=alert(3)>" not in stdout:
        fail(f"the hostile output is not shown as text: {status}, {stdout!r}")
    if "<script>alert(2)</script>" not in result:
        fail(f"the hostile result is not shown as text: {result!r}")
    if driver.find_elements(By.CSS_SELECTOR, "#stdout *, #result *, main script, main img"):
        fail("job output became elements")
    if "<script>alert(1)</script>" not in by_id("stdout").text:
        fail("the output's text is not visible")
    try:
        alert = driver.switch_to.alert
        fail(f"an alert opened: {alert.text}")
    except NoAlertPresentException:
        pass

    # The job list with all three, for the README.
    open_project("default")
    wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#jobs a[data-job]")) == 3, "the three jobs in the list")
    wait(lambda: not driver.find_elements(By.CSS_SELECTOR, '#jobs [data-status="running"]'), "no job shown running")
    shot("jobs")

    # Skills and their versions, and a job by skill from the form.
    step("skills")
    go("#/projects/default/skills")
    wait(lambda: driver.find_element(By.CSS_SELECTOR, "#skills a.skill-link"), "the skill list").click()
    wait(lambda: "def main(name)" in driver.find_element(By.CSS_SELECTOR, "pre.code").text, "the skill's code")
    go("#/projects/default/submit")
    wait(lambda: visible("mode-skill"), "the submit form").click()
    wait(lambda: visible("skill"), "the skill picker")
    driver.execute_script("arguments[0].value = arguments[1]", by_id("inputs"), '{"name": "<i>console</i>"}')
    by_id("submit-job").click()
    wait(lambda: driver.execute_script("return location.hash").startswith("#/jobs/"), "the skill job's page")
    wait(lambda: job_state()[0] in FINAL, "the skill job to end")
    if job_state()[0] != "succeeded" or "hello <i>console</i>" not in job_state()[2]:
        fail(f"the skill job: {job_state()}")

    # The operators' pages.
    step("workers, users, audit")
    go("#/workers")
    wait(lambda: "cloud-1" in by_id("workers").text and "of 2" in by_id("workers").text, "the worker and its slots")
    go("#/users")
    wait(lambda: os.environ["VIEWER_EMAIL"] in by_id("users").text, "the viewer among the users")
    go("#/audit")
    wait(lambda: "login" in by_id("audit").text, "logins in the audit log")

    # 6. A viewer: no submit button, and a forced submit shows the API's 403.
    step("viewer")
    by_id("logout").click()
    log_in(os.environ["VIEWER_EMAIL"], os.environ["VIEWER_PASSWORD"])
    open_project("default")
    wait(lambda: "viewer" in by_id("role").text, "the viewer's role")
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, f'#jobs a[data-job="{live_job}"]'), "the jobs, which a viewer reads")
    if driver.find_elements(By.ID, "submit-link"):
        fail("a viewer sees the submit link")
    if driver.find_elements(By.ID, "cancel"):
        fail("a viewer sees a cancel button")
    nav = by_id("nav").text
    if "Users" in nav or "Audit" in nav:
        fail(f"a non-admin sees the admin pages: {nav}")
    go("#/projects/default/submit")
    wait(lambda: visible("role-note"), "the note that a viewer cannot submit")
    driver.execute_script("arguments[0].value = arguments[1]", by_id("code"), "def main():\n    return 1\n")
    by_id("submit-job").click()
    error = wait(lambda: visible("error") and "403" in by_id("error").text and by_id("error").text, "the 403 to be shown")
    print(f"forced submit: {error}", flush=True)
    if not driver.execute_script("return location.hash").endswith("/submit"):
        fail("a refused submit left the form")

    # 7. A reload forgets the session (the tokens lived in the page's memory only).
    step("reload")
    driver.refresh()
    wait(lambda: visible("login"), "the login form after a reload")

    # The policy held: nothing was refused by the Content-Security-Policy.
    for entry in driver.get_log("browser"):
        browser_log.append(entry)
        if "Content Security Policy" in entry.get("message", ""):
            fail(f"a CSP violation: {entry}")


try:
    run()
    print("console browser test passed", flush=True)
except AssertionError as error:
    print(f"FAILED: {error}", flush=True)
    for entry in browser_log or driver.get_log("browser"):
        print(f"browser: {entry}", flush=True)
    sys.exit(1)
finally:
    driver.quit()
