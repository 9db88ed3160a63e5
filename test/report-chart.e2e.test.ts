// `report trend --html` looked at the way a person would: the file opened in headless
// Chromium with every network request refused, the chart's bars, legend and change list
// read from the rendered page, and screenshots taken, on a wide screen, at a phone's width
// and as a reader with deuteranopia sees it. CHART_SCREENSHOTS=<dir> keeps them to look at.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_STATUS_LABELS } from "../src/elements/codes.ts";
import { JOB_STATUS_COLORS, renderTrendHtml, UNKNOWN_FILL } from "../src/reporting/chart.ts";
import type { ChangeRow, DailyRow } from "../src/sql/reporting.ts";
import { runCli } from "./support/cli.ts";
import { deltaE, feColorMatrixValues, hexToRgb, lab, VISION, type Rgb } from "./support/colour.ts";
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

    // Legend in stacking order, bottom up: Failed first, on the axis.
    expect(await page.locator(".legend li").allInnerTexts()).toEqual([
      "Failed 2",
      "Waiting for Configuration 0",
      "Working 3",
      "unknown (9) 1",
    ]);
    // The y-axis runs to the largest total, 6, in whole steps, under its title.
    expect(await page.locator("svg .y-label").allTextContents()).toEqual([
      "0",
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
    ]);
    expect(await page.locator("svg .y-title").textContent()).toBe("customers");
    const changes = page.locator("table.changes tbody tr");
    expect(await changes.count()).toBe(12);
    expect(await changes.nth(1).innerText()).toContain("Waiting for Configuration → Failed");
    expect(await page.locator("table.changes tbody tr[data-kind=removed]").innerText()).toContain(
      "Delta",
    );
    // Changes into Failed stand out: the newest first, as in `report changes --status failed`.
    const intoFailed = page.locator("table.changes tbody tr.into-failed");
    expect((await intoFailed.allInnerTexts()).map((row) => row.split("\t")[2])).toEqual([
      "Delta",
      "Echo",
      "Alpha",
      "Charlie",
    ]);
    const background = (selector: string) =>
      page.evaluate<string>(
        `getComputedStyle(document.querySelector(${JSON.stringify(selector)})).backgroundColor`,
      );
    expect(await background("tr.into-failed")).not.toBe(await background("tr:not(.into-failed)"));

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

// The chart of issue 14's complaint: 517 customers, every documented job status in use.
const LAST_DAY: Record<number, number> = { 0: 10, 1: 362, 2: 58, 3: 25, 4: 30, 5: 12, 6: 20 };
const DAYS = ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"];

function dailyOf517(): DailyRow[] {
  return DAYS.flatMap((day, index) =>
    Object.entries(LAST_DAY).map(([code, customers]) => {
      const status = Number(code);
      // Earlier days: a few customers Working that later failed.
      const shift = (DAYS.length - 1 - index) * 3;
      const count = status === 2 ? customers - shift : status === 1 ? customers + shift : customers;
      return {
        day,
        job_status: status,
        job_status_label: JOB_STATUS_LABELS.get(status) ?? "",
        customers: count,
      };
    }),
  );
}

function change(organization: string, from: number, to: number): ChangeRow {
  return {
    changed_at: "2026-11-28T02:00:00.000+00:00",
    run_id: 5,
    customer_id: `id-${organization}`,
    organization,
    change_kind: "changed",
    previous_job_status: from,
    previous_job_status_label: JOB_STATUS_LABELS.get(from) ?? "",
    job_status: to,
    job_status_label: JOB_STATUS_LABELS.get(to) ?? "",
    previous_management_mode: 1,
    previous_management_mode_label: "Partner management of tenant",
    management_mode: 1,
    management_mode_label: "Partner management of tenant",
    job_status_changed: true,
    management_mode_changed: false,
  };
}

/** Where screenshots go: CHART_SCREENSHOTS to look at them, else the test's scratch directory. */
function screenshotPath(name: string): string {
  return join(process.env.CHART_SCREENSHOTS ?? dir, `trend-517-${name}.png`);
}

/** Reads a value computed in the page (the test's TypeScript has no DOM types, hence strings). */
async function inPage<T>(page: Page, expression: string): Promise<T> {
  return JSON.parse(await page.evaluate<string>(`JSON.stringify(${expression})`)) as T;
}

/** The rendered size in CSS pixels of the first SVG text matching `selector`. */
function svgTextPixels(page: Page, selector: string): Promise<number> {
  return inPage<number>(
    page,
    `(() => {
      const text = document.querySelector(${JSON.stringify(selector)});
      const svg = text.ownerSVGElement;
      return parseFloat(getComputedStyle(text).fontSize) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    })()`,
  );
}

/** The colours of `points` in a PNG screenshot, read back through a canvas. */
async function pixelsAt(png: Buffer, points: readonly { x: number; y: number }[]): Promise<Rgb[]> {
  const page = await browser.newPage();
  try {
    await page.setContent("<canvas></canvas>");
    return JSON.parse(
      await page.evaluate<string>(`(async () => {
        const image = new Image();
        image.src = "data:image/png;base64,${png.toString("base64")}";
        await image.decode();
        const canvas = document.querySelector("canvas");
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext("2d");
        context.drawImage(image, 0, 0);
        return JSON.stringify(${JSON.stringify(points)}.map(({ x, y }) =>
          [...context.getImageData(Math.round(x), Math.round(y), 1, 1).data.slice(0, 3)]));
      })()`),
    ) as Rgb[];
  } finally {
    await page.close();
  }
}

describe("the chart of 517 customers", () => {
  let file: string;

  beforeAll(() => {
    file = join(dir, "trend-517.html");
    const html = renderTrendHtml({
      daily: dailyOf517(),
      changes: [change("Into Failed Ltd", 1, 2), change("Recovered Inc", 2, 1)],
      timeZone: "UTC",
      generatedAt: "2026-11-28T10:00:00.000Z",
    });
    writeFileSync(file, html);
  });

  async function open(viewport: { width: number; height: number }, isMobile = false) {
    const page = await browser.newPage({ viewport, isMobile, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(file).toString());
    return page;
  }

  it("scales the y-axis to the data in round steps, with Failed at the bottom of every bar", async () => {
    const page = await open({ width: 1280, height: 900 });
    try {
      expect(await page.locator("svg .y-label").allTextContents()).toEqual([
        "0",
        "100",
        "200",
        "300",
        "400",
        "500",
        "600",
      ]);
      // The tallest bar, 517, reaches 517/600 of the axis: the plot is not half empty.
      const bars = await inPage<{
        base: number;
        top600: number;
        tops: number[];
        bottoms: string[];
      }>(
        page,
        `(() => {
          const line = (value) => Number(document.querySelector('svg .y-label[data-value="' + value + '"]').getAttribute("y"));
          const days = [...document.querySelectorAll("svg g.day")];
          return {
            base: line(0),
            top600: line(600),
            tops: days.map((g) => Math.min(...[...g.querySelectorAll("rect")].map((r) => Number(r.getAttribute("y"))))),
            bottoms: days.map((g) => g.querySelector("rect").getAttribute("data-status")),
          };
        })()`,
      );
      const tallest = Math.min(...bars.tops);
      expect((bars.base - tallest) / (bars.base - bars.top600)).toBeCloseTo(517 / 600, 2);
      expect(bars.bottoms).toEqual(DAYS.map(() => "2"));
      expect(await page.locator("svg .y-title").textContent()).toBe("customers");
      expect(await page.locator(".legend li").first().innerText()).toBe("Failed 58");
      expect(
        await page.evaluate<string>(
          `getComputedStyle(document.querySelector(".legend li")).fontWeight`,
        ),
      ).toBe("700");
      expect(await page.locator("tr.into-failed").innerText()).toContain("Into Failed Ltd");
      expect(await page.locator("tr.into-failed").count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it("reads at 1280×900: chart and legend on the first screen, text at 12 px or more", async () => {
    const page = await open({ width: 1280, height: 900 });
    try {
      const layout = await inPage<{ svgBottom: number; legendBottom: number; scrollWidth: number }>(
        page,
        `({
          svgBottom: document.querySelector("svg").getBoundingClientRect().bottom,
          legendBottom: document.querySelector(".legend").getBoundingClientRect().bottom,
          scrollWidth: document.documentElement.scrollWidth,
        })`,
      );
      expect(layout.svgBottom).toBeLessThanOrEqual(900);
      expect(layout.legendBottom).toBeLessThanOrEqual(900);
      expect(layout.scrollWidth).toBeLessThanOrEqual(1280);
      expect(await svgTextPixels(page, "svg .y-label")).toBeGreaterThanOrEqual(12);
      expect(await svgTextPixels(page, "svg .x-label")).toBeGreaterThanOrEqual(12);
      await page.screenshot({ path: screenshotPath("1280x900") });
    } finally {
      await page.close();
    }
  });

  it("reads at a phone's width: nothing wider than the screen, labels apart and at 9 px or more", async () => {
    const page = await open({ width: 390, height: 844 }, true);
    try {
      expect(
        await inPage<number>(page, "document.documentElement.scrollWidth"),
      ).toBeLessThanOrEqual(390);
      expect(await svgTextPixels(page, "svg .y-label")).toBeGreaterThanOrEqual(9);
      expect(await svgTextPixels(page, "svg .x-label")).toBeGreaterThanOrEqual(9);
      const labels = await inPage<{ left: number; right: number }[]>(
        page,
        `[...document.querySelectorAll("svg .x-label")]
          .filter((text) => getComputedStyle(text).display !== "none")
          .map((text) => text.getBoundingClientRect())
          .map(({ left, right }) => ({ left, right }))`,
      );
      expect(labels.length).toBeGreaterThanOrEqual(2);
      for (const [index, label] of labels.slice(1).entries()) {
        expect(label.left).toBeGreaterThan(labels[index]?.right ?? 0);
      }
      await page.screenshot({ path: screenshotPath("phone"), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it("uses colours that readers with a colour vision deficiency tell apart, Failed most of all", () => {
    const fills = [...JOB_STATUS_COLORS, [-1, UNKNOWN_FILL] as const];
    const failed = hexToRgb(JOB_STATUS_COLORS.get(2) ?? "");
    for (const [vision, matrix] of Object.entries(VISION)) {
      for (const [i, [code, color]] of fills.entries()) {
        for (const [other, otherColor] of fills.slice(i + 1)) {
          const distance = deltaE(lab(hexToRgb(color), matrix), lab(hexToRgb(otherColor), matrix));
          const least = code === 2 || other === 2 ? 30 : 20;
          expect({ vision, code, other, apart: distance >= least }).toEqual({
            vision,
            code,
            other,
            apart: true,
          });
        }
      }
      // And Failed stands out from the white page.
      expect(deltaE(lab(failed, matrix), lab([255, 255, 255], matrix))).toBeGreaterThan(60);
    }
  });

  it("keeps the statuses apart in a screenshot seen with simulated deuteranopia", async () => {
    const page = await open({ width: 1280, height: 900 });
    try {
      // The centre of each segment of the last day's bar.
      const segments = await inPage<{ status: number; x: number; y: number }[]>(
        page,
        `[...document.querySelectorAll("svg g.day:last-of-type rect")].map((rect) => {
          const box = rect.getBoundingClientRect();
          return { status: Number(rect.getAttribute("data-status")), x: box.x + box.width / 2, y: box.y + box.height / 2 };
        })`,
      );
      expect(segments.map(({ status }) => status).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
      const seen = await pixelsAt(await page.screenshot(), segments);
      // The points hit the segments: the screenshot shows the palette's colours there.
      for (const [index, { status }] of segments.entries()) {
        const drawn = lab(hexToRgb(JOB_STATUS_COLORS.get(status) ?? ""));
        expect(deltaE(lab(seen[index] ?? [0, 0, 0]), drawn)).toBeLessThan(3);
      }

      await page.evaluate(`(() => {
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.setAttribute("width", "0");
        svg.setAttribute("height", "0");
        svg.innerHTML = '<filter id="deuteranopia" color-interpolation-filters="linearRGB">' +
          '<feColorMatrix type="matrix" values="${feColorMatrixValues(VISION.deuteranopia)}"/></filter>';
        document.body.append(svg);
        document.documentElement.style.filter = "url(#deuteranopia)";
      })()`);
      const screenshot = await page.screenshot({ path: screenshotPath("deuteranopia") });
      const simulated = (await pixelsAt(screenshot, segments)).map((rgb) => lab(rgb));
      for (const [i, a] of segments.entries()) {
        for (const [j, b] of segments.entries()) {
          if (j <= i) continue;
          const least = a.status === 2 || b.status === 2 ? 30 : 20;
          const distance = deltaE(simulated[i] ?? [0, 0, 0], simulated[j] ?? [0, 0, 0]);
          expect({ a: a.status, b: b.status, apart: distance >= least }).toEqual({
            a: a.status,
            b: b.status,
            apart: true,
          });
        }
      }
    } finally {
      await page.close();
    }
  });
});
