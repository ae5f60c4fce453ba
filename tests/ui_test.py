"""The web page (GET /ui) in a real headless Chromium, driven by Selenium: ask the
sample corpus a question, wait for the streamed answer and its citations, open the
cited passage, search with a filter, read the stats, all with the server's API key
typed into the page. Keeps a screenshot of the answer. Run by tests/ui_test.sh;
argv: URL API_KEY SCREENSHOT.
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

url, key, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--window-size=1000,1000"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


try:
    wait = WebDriverWait(driver, 60)
    driver.get(url + "/ui")
    wait.until(lambda d: "401" in d.find_element(By.ID, "error").text or "API key" in d.find_element(By.ID, "error").text)
    check("without the key the page says why", True)
    driver.find_element(By.ID, "key").send_keys(key + "\t")  # the change event loads the collections
    wait.until(lambda d: [o.text for o in Select(d.find_element(By.ID, "collection")).options] == ["kb"])
    check("with the key it lists the collections", True)

    driver.find_element(By.ID, "question").send_keys("What is a cynic?")
    driver.find_element(By.ID, "ask-go").click()
    wait.until(lambda d: d.find_element(By.ID, "answer").get_attribute("data-done") == "true")
    answer = driver.find_element(By.ID, "answer").text
    check("the answer streams in", "blackguard" in answer.lower(), answer)
    links = driver.find_elements(By.CSS_SELECTOR, "#answer a.cite-link")
    check("its [n] markers are citation links", len(links) >= 1 and links[0].text == "[1]", answer)
    sources = driver.find_elements(By.CSS_SELECTOR, "#sources details.hit")
    check("the sources are listed", len(sources) == 5, str(len(sources)))
    check("the extractive answer says so", driver.find_element(By.ID, "degraded").is_displayed())
    passages = []
    for link in links:  # each [n] opens the passage it cites, with its source and offsets
        link.click()
        opened = driver.find_element(By.CSS_SELECTOR, "#sources details.hit.open")
        check(f"{link.text} opens its passage", opened.get_attribute("id") == "hit-" + link.get_attribute("data-id")
              and opened.get_attribute("open") is not None, opened.get_attribute("id"))
        check(f"{link.text} names its source and offsets", "bytes" in opened.text, opened.text[:200])
        passages.append(opened.find_element(By.CSS_SELECTOR, ".passage").text)
    check("the cited passages include the definition", any("CYNIC" in p for p in passages))
    # The screenshot: the answer, and the passage with the definition open below it.
    links[next((i for i, p in enumerate(passages) if "CYNIC" in p), 0)].click()
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(screenshot)

    driver.find_element(By.ID, "tab-search").click()
    driver.find_element(By.ID, "search-q").send_keys("marriage")
    driver.find_element(By.ID, "search-filter").send_keys('{"doc_id": "m.md"}')
    driver.find_element(By.ID, "search-go").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results details.hit"))
    hits = driver.find_elements(By.CSS_SELECTOR, "#results details.hit")
    check("search with a filter keeps to it", all("m.md" in h.text for h in hits), str([h.text for h in hits]))

    driver.find_element(By.ID, "search-filter").clear()
    driver.find_element(By.ID, "search-filter").send_keys('{"doc_id": ')
    driver.find_element(By.ID, "search-go").click()
    wait.until(ec.visibility_of_element_located((By.ID, "error")))
    check("a malformed filter shows an error", "JSON" in driver.find_element(By.ID, "error").text,
          driver.find_element(By.ID, "error").text)

    driver.find_element(By.ID, "tab-stats").click()
    wait.until(lambda d: "vector_count" in d.find_element(By.ID, "stats-table").text)
    check("the stats tab shows the collection", "vector_count" in driver.find_element(By.ID, "stats-table").text)
    wait.until(lambda d: "c.md" in d.find_element(By.ID, "documents").text)
    check("and its documents", "m.md" in driver.find_element(By.ID, "documents").text)
finally:
    driver.quit()
sys.exit(1 if failures else 0)
