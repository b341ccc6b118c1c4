#!/usr/bin/env python3
"""The web console in a real browser (Debian's chromium, headless, through
chromium-driver and selenium), against the e2e stack's gateway.

Usage: console_browser.py ENDPOINT_URL SCREENSHOT_DIR   (exit 0 when every
check held; the screenshots' paths are printed)
"""
import os
import sys
import time
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from scenario import KEY, SECRET, Checks, client, register_busybox

endpoint, shots = sys.argv[1], sys.argv[2]
os.makedirs(shots, exist_ok=True)
batch = client(endpoint)
check = Checks()
run = uuid.uuid4().hex[:8]

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--window-size=1280,800"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                          options=opts)
# pages re-render as jobs move: an element found may be replaced at once
wait = WebDriverWait(driver, 60, ignored_exceptions=(
    NoSuchElementException, StaleElementReferenceException))


def shot(name):
    path = os.path.join(shots, name + ".png")
    driver.save_screenshot(path)
    print("screenshot: " + path)
    return path


def text_of(css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def define(name, script):
    register_busybox(batch, name, script)


job = None
try:
    # nothing is readable without a session
    driver.get(endpoint + "/console/")
    wait.until(EC.visibility_of_element_located((By.ID, "login-form")))
    check(not driver.find_element(By.ID, "nav").is_displayed(),
          "no navigation before logging in")
    # a wrong secret is refused, by keyboard only
    driver.find_element(By.ID, "key").send_keys(KEY)
    driver.find_element(By.ID, "secret").send_keys("wrong" + Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "login-error").text)
    check("not one of" in text_of("#login-error"),
          "a wrong key pair is refused: %r" % text_of("#login-error"))
    secret = driver.find_element(By.ID, "secret")
    secret.clear()
    secret.send_keys(SECRET + Keys.ENTER)
    wait.until(EC.visibility_of_element_located((By.ID, "queues")))
    check(text_of("#who") == KEY, "logged in as the key")
    cookies = {c["name"]: c for c in driver.get_cookies()}
    s = cookies.get("drover_session", {})
    check(s.get("httpOnly") and s.get("sameSite") == "Strict" and
          s.get("expiry"), "the session cookie: %r" % s)
    check(driver.execute_script("return document.cookie").find(
        "drover_session") < 0, "scripts cannot read the session")
    wait.until(lambda d: "default" in text_of("#queues"))
    shot("dashboard-1280x800")

    # a job that writes lines over a few seconds, and one waiting for it
    name = "e2e-console-" + run
    define(name, "echo 'console line one'; sleep 4; "
                 "echo 'console line two'")
    job = batch.submit_job(jobName=name, jobQueue="proc",
                           jobDefinition=name)["jobId"]
    after = batch.submit_job(jobName=name + "-after", jobQueue="proc",
                             jobDefinition=name,
                             dependsOn=[{"jobId": job}])["jobId"]
    driver.get(endpoint + "/console/#/job/" + job)
    wait.until(lambda d: "console line one" in text_of("#log"))
    check("console line two" not in text_of("#log"),
          "the log is followed while the job runs")
    shot("job-running-1280x800")
    wait.until(lambda d: "console line two" in text_of("#log"))
    wait.until(lambda d: "SUCCEEDED" in text_of("#view h1"))
    check(text_of("#attempts").count("\n") >= 1, "the attempt is listed")
    shot("job-succeeded-1280x800")
    # the jobs page finds it by name
    driver.get(endpoint + "/console/#/jobs?queue=proc&name=" + name)
    wait.until(lambda d: job in text_of("#jobs"))
    driver.find_element(By.LINK_TEXT, job).click()
    wait.until(lambda d: name in text_of("#view h1"))

    # cancel a waiting job with a reason
    define(name + "-slow", "sleep 30")
    slow = batch.submit_job(jobName=name + "-slow", jobQueue="proc",
                            jobDefinition=name + "-slow")["jobId"]
    waiting = batch.submit_job(jobName=name + "-waiting", jobQueue="proc",
                               jobDefinition=name,
                               dependsOn=[{"jobId": slow}])["jobId"]
    driver.get(endpoint + "/console/#/job/" + waiting)
    wait.until(EC.element_to_be_clickable((By.ID, "cancel")))
    reason = driver.find_element(By.ID, "stop-reason")
    reason.clear()
    reason.send_keys("not needed " + run)
    driver.find_element(By.ID, "cancel").click()
    wait.until(lambda d: "FAILED" in text_of("#view h1"))
    check("not needed " + run in text_of("dl.fields"),
          "cancelled with its reason: %r" % text_of("dl.fields"))
    batch.terminate_job(jobId=slow, reason="done with it")

    # readable on a phone
    driver.set_window_size(390, 844)
    driver.get(endpoint + "/console/#/job/" + job)
    wait.until(lambda d: "console line two" in text_of("#log"))
    shot("job-390x844")
    width = driver.execute_script(
        "return document.documentElement.scrollWidth")
    check(width <= 400, "no sideways scrolling on a phone: %d" % width)
    driver.set_window_size(1280, 800)

    # no script error, nothing the CSP refused (the wrong key pair's 401
    # above is the one error expected)
    errors = [e for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and not
              ("/console/login" in e["message"] and "401" in e["message"])]
    check(not errors, "the browser's console is clean: %r" % errors)

    # logging out ends the session
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.visibility_of_element_located((By.ID, "login-form")))
    status = driver.execute_script(
        "const r = await fetch('/console/api/DescribeJobQueues', "
        "{method: 'POST', body: '{}'}); return r.status;")
    check(status == 401, "after logging out, nothing: %s" % status)
    check(batch.describe_jobs(jobs=[after])["jobs"][0]["status"] in
          ("RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"),
          "the dependent of the job that succeeded went on")
except Exception:
    shot("failure")
    if job:
        import boto3
        from scenario import REGION
        logs = boto3.client("logs", endpoint_url=endpoint,
                            region_name=REGION, aws_access_key_id=KEY,
                            aws_secret_access_key=SECRET)
        j = batch.describe_jobs(jobs=[job])["jobs"][0]
        print("job: %r" % j)
        print("events: %r" % logs.get_log_events(
            logGroupName="/aws/batch/job", startFromHead=True,
            logStreamName=j["container"]["logStreamName"])["events"])
    print("page: " + driver.find_element(By.TAG_NAME, "body").text[:2000])
    print("browser log: %r" % driver.get_log("browser")[-10:])
    raise
finally:
    driver.quit()

print("console: %d checks passed" % check.n)
