// Loads the daemon's /ui in Debian's headless Chromium, waits for the running transfer of one app,
// clicks its "close" button, waits for the row to go, and saves a screenshot.
// usage: node dashboard.mjs URL SECRET PROCESS_NAME SCREENSHOT
// Prints one JSON line: {"ok": true, "closedId": "...", "sawLane": "..."} or {"ok": false, "error": "..."}.
import { chromium } from "playwright-core";

const [url, secret, processName, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let result;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", e => errors.push(e.message));
  await page.goto(`${url}/ui#token=${encodeURIComponent(secret)}`);
  await page.waitForSelector("#state.connected", { timeout: 20000 });
  const row = page.locator(`#connections tr[data-process="${processName}"]`).first();
  await row.waitFor({ timeout: 20000 });
  const id = await row.getAttribute("data-id");
  const lane = (await row.locator("td").nth(4).textContent()).trim();
  // The per-app row shows speed and sparklines while the transfer runs.
  await page.locator(`#apps tr[data-app="${processName}"] svg.spark`).first().waitFor({ timeout: 10000 });
  await page.waitForTimeout(2500);
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-before.png"), fullPage: true });
  await row.locator("button.close").click();
  await page.locator(`#connections tr[data-id="${id}"]`).waitFor({ state: "detached", timeout: 10000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  result = { ok: errors.length === 0, closedId: id, sawLane: lane, errors };
} catch (e) {
  result = { ok: false, error: String(e && e.message || e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
