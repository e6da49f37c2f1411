// Drives the real Yacd-meta dashboard (a Clash API client nobody on Sluice wrote) in Debian's headless Chromium:
//  1. opens it (from /ui of the API, or from another origin) with the API's address and secret in the query;
//  2. proxies page: waits for the group and its members, switches the selector to another member, and runs an
//     app (curl) before and after the switch, reporting the source address the server saw each time;
//  3. connections page: waits for the row of the app's running transfer (with its process name), closes it
//     through the row's close icon and the confirmation dialog;
//  4. overview page: the traffic chart's canvas changes between two samples while traffic flows;
//  5. rules page: switches rule 0 off with its switch (the dashboard sends PATCH /rules/disable) and reports the answer.
// usage: node yacd.mjs CONFIG_JSON   (keys: page, group, from, to, process, curl, whoamiUrl, shots, mode)
// mode "refused": only checks that the page stays on its backend form and a fetch to the API is refused.
// Prints one JSON line with what it saw; exit 0 when every step passed.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import path from "node:path";

const cfg = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--dns-prefetch-disable"],
});
const result = { ok: false, steps: [] };
const shot = async (page, name) => {
  const file = path.join(cfg.shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  result.steps.push(`screenshot ${file}`);
};
const whoami = () => execFileSync(cfg.curl, ["-sS", "--max-time", "10", cfg.whoamiUrl], { encoding: "utf8" }).trim();

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "en-US", serviceWorkers: "block" });
  const page = await context.newPage();
  const errors = [];
  const refusals = [];
  page.on("pageerror", e => errors.push(e.message));
  page.on("response", r => { if (r.status() === 401 || r.status() === 403) refusals.push(`${r.status()} ${r.url()}`); });
  // Service workers are blocked in this context (no cached copies between runs); Yacd logs that it could not register one.
  page.on("console", m => { if (m.type() === "error" && !m.text().includes("service worker registration")) errors.push("console: " + m.text()); });

  if (cfg.mode === "refused") {
    await page.goto(cfg.page);
    // Yacd falls back to its "add a backend" form when /configs cannot be read.
    await page.locator("input#baseURL").waitFor({ timeout: 20000 });
    const fetched = await page.evaluate(async ({ api, secret }) => {
      try {
        const r = await fetch(api + "/proxies", { headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" } });
        return `status ${r.status}`;
      } catch (e) {
        return `refused: ${e.message}`;
      }
    }, { api: cfg.api, secret: cfg.secret });
    result.fetch = fetched;
    await shot(page, `${cfg.prefix}-refused`);
    result.ok = fetched.startsWith("refused");
  } else {
    // 1-2. Proxies: the group and its members are listed.
    await page.goto(cfg.page);
    const group = page.locator('div[class^="_group_"]').filter({ has: page.locator(`text="${cfg.group}"`) }).first();
    await group.waitFor({ timeout: 30000 });
    const member = name => group.locator('div[class*="_proxy_"]').filter({ has: page.getByText(name, { exact: true }) }).first();
    // Groups start folded (members as dots) or open, as the last visit left them: unfold until names show.
    for (let i = 0; i < 2; i++) {
      try {
        await member(cfg.to).waitFor({ timeout: 3000 });
        break;
      } catch {
        await group.locator('button[title="Toggle collapsible section"]').click();
      }
    }
    await member(cfg.to).waitFor({ timeout: 10000 });
    await member(cfg.from).waitFor({ timeout: 10000 });
    result.listed = await page.locator('div[class^="_group_"]').allInnerTexts().then(t => t.map(x => x.split("\n")[0]));
    await shot(page, `${cfg.prefix}-proxies`);
    result.before = whoami();
    await member(cfg.to).click();
    await group.locator(`div[class*="_now_"]`).filter({ hasText: cfg.to }).first().waitFor({ timeout: 10000 });
    result.after = whoami();
    await shot(page, `${cfg.prefix}-switched`);

    // 4 first (the transfer is still running): the traffic chart moves.
    await page.evaluate(() => { location.hash = "#/home"; });
    const canvas = page.locator("canvas").first();
    await canvas.waitFor({ timeout: 15000 });
    await page.waitForTimeout(2000);
    const first = await canvas.evaluate(c => c.toDataURL());
    result.chartMoved = false;
    for (let i = 0; i < 15 && !result.chartMoved; i++) {
      await page.waitForTimeout(1000);
      result.chartMoved = (await canvas.evaluate(c => c.toDataURL())) !== first;
    }
    result.overview = (await page.locator("body").innerText()).split("\n").slice(0, 40).join(" | ");
    await shot(page, `${cfg.prefix}-overview`);

    // 3. Connections: the app's transfer, with its process name; closed from its row.
    await page.evaluate(() => { location.hash = "#/connections"; });
    // Chromium's own lookups fill the table: filter by the app, as a person would.
    await page.locator('input[placeholder="Search"]').fill(cfg.process);
    const row = page.locator('div[class^="_tr_"][role="button"]').filter({ hasText: cfg.process }).first();
    await row.waitFor({ timeout: 20000 });
    result.row = (await row.innerText()).replace(/\s+/g, " ");
    await page.waitForTimeout(1500);
    await shot(page, `${cfg.prefix}-connections`);
    await row.locator("div.ctrl svg").click();
    await page.getByRole("button", { name: "I'm sure" }).click();
    await row.waitFor({ state: "detached", timeout: 15000 });
    await shot(page, `${cfg.prefix}-closed`);

    // 5. Rules: the switch Yacd shows only when /rules items carry "extra"; react-switch hides the checkbox and
    // toggles on a click of its handle.
    await page.evaluate(() => { location.hash = "#/rules"; });
    const ruleInput = page.locator('input[name="rule-0"]');
    await ruleInput.waitFor({ state: "attached", timeout: 20000 });
    result.rule = (await page.locator("body").innerText()).split("\n").filter(l => l.includes(cfg.process)).join(" | ");
    const patched = page.waitForResponse(r => r.url().endsWith("/rules/disable") && r.request().method() === "PATCH", { timeout: 15000 });
    await ruleInput.locator("..").locator(".react-switch-handle").click();
    const answer = await patched;
    result.ruleSwitch = `${answer.status()} ${answer.request().postData()}`;
    await page.waitForTimeout(1000);
    await shot(page, `${cfg.prefix}-rules`);
    result.ok = result.chartMoved && errors.length === 0;
  }
  result.errors = errors;
  result.refusals = refusals;
} catch (e) {
  result.error = String(e && e.message || e);
  try {
    const pages = browser.contexts().flatMap(c => c.pages());
    if (pages.length) {
      result.html = (await pages[0].content()).slice(0, 6000);
      await pages[0].screenshot({ path: path.join(cfg.shots, `${cfg.prefix}-failure.png`) });
    }
  } catch { }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
