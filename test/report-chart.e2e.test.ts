// `report trend --html` looked at the way a person would: the file opened in headless
// Chromium with every network request refused, the chart's bars, legend and change list
// read from the rendered page, and a screenshot taken.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createScenario, type Scenario } from "./support/reporting-scenario.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let s: Scenario;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  s = await createScenario();
  dir = mkdtempSync(join(tmpdir(), "elements-sync-chart-"));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await (browser as Browser | undefined)?.close();
  await (s as Scenario | undefined)?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("elements-sync report trend --html", () => {
  it("draws customers per job status per day, a legend and the latest changes, offline", async () => {
    const file = join(dir, "trend.html");
    const result = await runCli(
      ["report", "trend", "--days", "11", "--html", file, "--time-zone", "UTC"],
      { DATABASE_URL: s.db.url },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`wrote ${file}: 11 days, 12 latest changes\n`);

    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const refused: string[] = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:")) return route.continue();
      refused.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).toString());

    // One bar per day; one segment per job status with customers, its count in data-count.
    // Read in the page (the test's TypeScript has no DOM types, hence a string expression).
    const bars = JSON.parse(
      await page.evaluate<string>(`JSON.stringify([...document.querySelectorAll("svg g.day")].map((group) => ({
        day: group.getAttribute("data-day"),
        height: [...group.querySelectorAll("rect")].reduce((sum, rect) => sum + rect.getBoundingClientRect().height, 0),
        segments: Object.fromEntries([...group.querySelectorAll("rect")].map((rect) =>
          [rect.getAttribute("data-label"), Number(rect.getAttribute("data-count"))])),
      })))`),
    ) as { day: string; height: number; segments: Record<string, number> }[];
    expect(bars.map(({ day, segments }) => ({ day, segments }))).toEqual(
      Array.from({ length: 11 }, (_, n) => ({
        day: s.day(n),
        segments:
          n < 2
            ? { Working: 2, Failed: 1, "Waiting for Configuration": 1, "unknown (9)": 1 }
            : n < 4
              ? { Working: 2, Failed: 2, "unknown (9)": 1 }
              : { Working: 3, Failed: 2, "unknown (9)": 1 },
      })),
    );
    // Stacked: each day's segments are as tall together as the total says.
    const heights = bars.map((bar) => bar.height);
    expect((heights[10] ?? 0) / (heights[0] ?? 1)).toBeCloseTo(6 / 5, 2);

    expect(await page.locator(".legend li").allInnerTexts()).toEqual([
      "Working 3",
      "Failed 2",
      "Waiting for Configuration 0",
      "unknown (9) 1",
    ]);
    const changes = page.locator("table.changes tbody tr");
    expect(await changes.count()).toBe(12);
    expect(await changes.nth(1).innerText()).toContain("Waiting for Configuration → Failed");
    expect(await page.locator("table.changes tbody tr[data-kind=removed]").innerText()).toContain(
      "Delta",
    );

    const screenshot = process.env.CHART_SCREENSHOT ?? join(dir, "trend.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
    expect(refused).toEqual([]);
    await page.close();
  });

  it("is one file that names nothing to fetch", () => {
    const html = readFileSync(join(dir, "trend.html"), "utf8");
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|src=|@import|url\(/);
  });
});
