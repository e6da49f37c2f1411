// Loads the daemon's /ui in Debian's headless Chromium while the engine is connected (the blocked banner
// must be hidden), clicks "Down" (the gate stays), waits for the banner and saves a screenshot.
// usage: node blocked.mjs URL SECRET SCREENSHOT
// Prints one JSON line: {"ok": true, "hiddenWhileConnected": true, "banner": "..."} or {"ok": false, "error": "..."}.
import { chromium } from "playwright-core";

const [url, secret, screenshot] = process.argv.slice(2);
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
  const hiddenWhileConnected = !(await page.locator("#blocked").isVisible());
  await page.locator("#down").click();
  await page.locator("#blocked").waitFor({ state: "visible", timeout: 20000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: screenshot, fullPage: true });
  const banner = (await page.locator("#blocked").innerText()).trim();
  result = { ok: errors.length === 0, hiddenWhileConnected, banner, errors };
} catch (e) {
  result = { ok: false, error: String(e && e.message || e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
