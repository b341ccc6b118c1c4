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
from selenium.webdriver.support.ui import Select, WebDriverWait

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


def typed(id_, text):
    e = driver.find_element(By.ID, id_)
    e.clear()
    e.send_keys(text)
    return e


def click(id_):
    wait.until(EC.element_to_be_clickable((By.ID, id_))).click()


def shown(url, css):
    driver.get(endpoint + "/console/#/" + url)
    return wait.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, css)))


def acted(id_, table_id):
    """Click an action of a table's row and wait for the page drawn after
    it (the table replaced)."""
    old = driver.find_element(By.ID, table_id)
    click(id_)
    wait.until(EC.staleness_of(old))


def row_inputs(rows_id):
    """The last row of a rows editor, added by its button."""
    click(rows_id + "-add")
    row = driver.find_elements(By.CSS_SELECTOR, "#%s .row" % rows_id)[-1]
    return row, row.find_elements(By.CSS_SELECTOR, "[data-key]")


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
    # each compute environment's workers and capacity in use: "proc" has
    # one worker of 2 vCPUs (tests/e2e/run)
    proc = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#ces tr")
            if r.text.startswith("proc ")]
    check(proc and " 1 " in proc[0] and " of 2" in proc[0],
          "the dashboard shows proc's worker and capacity: %r" % proc)
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

    # a job definition registered through the form
    fdef = "e2e-form-" + run
    shown("definitions", "#register")
    typed("d-name", fdef)
    typed("d-image", "localhost/drover/busybox:latest")
    typed("d-command", '["sh", "-c", "echo child '
          '${AWS_BATCH_JOB_ARRAY_INDEX:-none} says $GREETING; sleep 1"]')
    typed("d-vcpus", "0.25")
    typed("d-memory", "32")
    click("register-send")
    wait.until(lambda d: fdef in text_of("#view h1"))
    check("ACTIVE" in text_of("#revisions"), "the revision is listed")
    got = batch.describe_job_definitions(jobDefinitionName=fdef)
    cp = got["jobDefinitions"][0]["containerProperties"]
    check(cp["command"][0] == "sh" and {"type": "MEMORY", "value": "32"}
          in cp["resourceRequirements"], "registered as typed: %r" % cp)

    # the submit form: a 5-child SEQUENTIAL array; an environment variable
    # with the reserved prefix is refused inline and nothing is sent
    aname = "form-array-" + run
    shown("submit?queue=proc&definition=%s:1" % fdef, "#submit")
    typed("s-name", aname)
    typed("s-array-size", "5")
    driver.find_element(By.ID, "s-sequential").click()
    row, (k, v) = row_inputs("s-env")
    k.send_keys("AWS_BATCH_JOB_ID")
    v.send_keys("forged")
    refusal = row.find_element(By.CSS_SELECTOR, ".row-error").text
    check("reserved" in refusal, "the reserved prefix refused inline: %r"
          % refusal)
    shot("submit-refused-1280x800")
    click("submit-send")
    wait.until(lambda d: "reserved" in text_of("#submit-error"))
    listed = batch.list_jobs(jobQueue="proc", filters=[
        {"name": "JOB_NAME", "values": [aname]}])["jobSummaryList"]
    check(listed == [], "nothing submitted while refused: %r" % listed)
    k.clear()
    k.send_keys("GREETING")
    v.clear()
    v.send_keys("hello-" + run)
    check(row.find_element(By.CSS_SELECTOR, ".row-error").text == "",
          "the refusal goes once the name is fixed")
    _, (pk, pv) = row_inputs("s-params")
    pk.send_keys("tier")
    pv.send_keys("gold")
    click("submit-send")
    wait.until(lambda d: aname in text_of("#view h1"))
    array_id = driver.current_url.rsplit("/", 1)[-1]
    # a dependent of the array through the form
    dname = "form-after-" + run
    shown("submit?queue=proc&definition=%s:1" % fdef, "#submit")
    typed("s-name", dname)
    _, (dj, dt) = row_inputs("s-deps")
    dj.send_keys(array_id)
    Select(dt).select_by_value("")
    click("submit-send")
    wait.until(lambda d: dname in text_of("#view h1"))
    dep_id = driver.current_url.rsplit("/", 1)[-1]
    wait.until(lambda d: aname in text_of("#graph"))
    check(array_id in driver.find_element(By.ID, "graph").get_attribute(
        "innerHTML"), "the dependent's graph links the array")
    # the array's page: children by state, then every one SUCCEEDED
    shown("job/" + array_id, "#children")
    wait.until(lambda d: dname in text_of("#graph"))
    shot("array-running-1280x800")
    wait.until(lambda d: "SUCCEEDED 5 of 5" in text_of("#children"))
    wait.until(lambda d: "SUCCEEDED" in text_of("#view h1"))
    check("tier=gold" in text_of("dl.fields"), "the parameter is shown")
    shot("array-succeeded-1280x800")
    kids = batch.describe_jobs(jobs=["%s:%d" % (array_id, i)
                                     for i in range(5)])["jobs"]
    kids.sort(key=lambda j: j["arrayProperties"]["index"])
    check(all(kids[i + 1]["startedAt"] >= kids[i]["stoppedAt"]
              for i in range(4)), "the children ran one after another")
    # a child's log, from the array's list of children
    driver.find_element(By.LINK_TEXT, array_id + ":2").click()
    wait.until(lambda d: ("child 2 says hello-" + run) in text_of("#log"))
    check("GREETING=hello-" + run in text_of("dl.fields"),
          "the child shows its environment")
    shot("child-log-1280x800")
    for _ in range(120):
        after_st = batch.describe_jobs(jobs=[dep_id])["jobs"][0]["status"]
        if after_st in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.5)
    check(after_st == "SUCCEEDED", "the dependent ran after: %s" % after_st)
    shown("job/" + dep_id, "#graph")
    wait.until(lambda d: "SUCCEEDED" in text_of("#view h1"))

    # a queue and a compute environment created, changed and switched
    qname, cname = "form-q-" + run, "form-ce-" + run
    shown("compute-environments", "#create-ce")
    typed("c-name", cname)
    typed("c-vcpus", "2")
    Select(driver.find_element(By.ID, "c-state")).select_by_value(
        "DISABLED")
    click("create-ce-send")
    wait.until(lambda d: cname in text_of("#ce-list"))
    typed("vcpus-" + cname, "3")
    acted("save-" + cname, "ce-list")
    wait.until(lambda d: batch.describe_compute_environments(
        computeEnvironments=[cname])["computeEnvironments"][0].get(
        "unmanagedvCpus") == 3)
    acted("toggle-" + cname, "ce-list")
    wait.until(lambda d: batch.describe_compute_environments(
        computeEnvironments=[cname])["computeEnvironments"][0]["state"] ==
        "ENABLED")
    shown("queues", "#create-queue")
    typed("q-name", qname)
    typed("q-priority", "3")
    typed("q-ces", cname)
    click("create-queue-send")
    wait.until(lambda d: qname in text_of("#queue-list"))
    typed("priority-" + qname, "7")
    acted("save-" + qname, "queue-list")
    wait.until(lambda d: batch.describe_job_queues(jobQueues=[qname])[
        "jobQueues"][0]["priority"] == 7)
    acted("toggle-" + qname, "queue-list")
    wait.until(lambda d: batch.describe_job_queues(jobQueues=[qname])[
        "jobQueues"][0]["state"] == "DISABLED")
    shot("queues-1280x800")
    # a refusal is shown above the page, which stays
    acted("toggle-" + qname, "queue-list")
    check("ENABLED" in text_of("#queue-list"), "enabled again")
    typed("priority-" + qname, "99999")
    click("save-" + qname)
    wait.until(lambda d: driver.find_elements(By.CSS_SELECTOR, ".flash"))
    check("priority must be" in text_of(".flash"),
          "the refusal names the field: %r" % text_of(".flash"))
    check(qname in text_of("#queue-list"), "the page stays after a refusal")
    batch.update_job_queue(jobQueue=qname, state="DISABLED")
    wait.until(lambda d: batch.describe_job_queues(jobQueues=[qname])[
        "jobQueues"][0]["state"] == "DISABLED")
    batch.delete_job_queue(jobQueue=qname)
    batch.update_compute_environment(computeEnvironment=cname,
                                     state="DISABLED")
    # deregistered from the definition's page
    shown("definition/" + fdef, "#revisions")
    click("deregister-1")
    wait.until(lambda d: "INACTIVE" in text_of("#revisions"))

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
    # the forms and the wide tables too (a table scrolls in its own box)
    for page, css, name_ in (("submit", "#submit", "submit"),
                             ("queues", "#queue-list", "queues"),
                             ("job/" + array_id, "#graph", "array")):
        shown(page, css)
        width = driver.execute_script(
            "return document.documentElement.scrollWidth")
        check(width <= 400, "%s: no sideways scrolling on a phone: %d"
              % (page, width))
        shot(name_ + "-390x844")
    driver.set_window_size(1280, 800)

    # no script error, nothing the CSP refused (the wrong key pair's 401
    # and the refused priority's 400 above are the errors expected)
    expected = (("/console/login", "401"), ("/api/UpdateJobQueue", "400"))
    errors = [e for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and not
              any(u in e["message"] and c in e["message"]
                  for u, c in expected)]
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
