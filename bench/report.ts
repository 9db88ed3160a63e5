// The bench's printed report: the table someone reads at the end of `npm run bench`, and
// the one docs/performance.md quotes. It only formats results already measured, so that its
// widths and wording can change without touching what the JSON file keeps.
import { HISTORY_TABLES, type TableWrites } from "./database.ts";
import {
  REMOVAL_FRACTION,
  TARGETS,
  type BaselineResult,
  type BenchSettings,
  type RunMeasure,
  type SizeResult,
} from "./measures.ts";

const seconds = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(2)} s`);
const count = (value: number) => value.toLocaleString("en");
const MISS = " ✗";
const marked = (text: string, met: boolean | null) => (met === false ? `${text}${MISS}` : text);

/** Per table with writes in either run: ins, upd, HOT, del of the first and the unchanged run. */
function writesTable(r: SizeResult): string[] {
  const names = [
    ...new Set([...Object.keys(r.first.rowVersions), ...Object.keys(r.unchanged.rowVersions)]),
  ].sort();
  const width = Math.max(5, ...names.map((name) => name.length));
  // A space before every cell: 1,000,000 fills a column of 9.
  const cells = (w: TableWrites | undefined) =>
    [w?.ins, w?.upd, w?.hotUpd, w?.del].map((v) => ` ${count(v ?? 0).padStart(9)}`).join("");
  const heads = ["ins", "upd", "HOT", "del"].map((head) => ` ${head.padStart(9)}`).join("");
  return [
    `${" ".repeat(width + 6)}${"first run".padStart(10).padEnd(40)}  ${"unchanged re-run".padStart(10)}`,
    `  N = ${count(r.customers)}`.padEnd(width + 6) + `${heads}  ${heads}`,
    ...names.map(
      (name) =>
        `    ${name.padEnd(width)}  ${cells(r.first.rowVersions[name])}  ${cells(r.unchanged.rowVersions[name])}`,
    ),
  ];
}

/** Per run: CPU seconds of the worker, the simulator and the rest (PostgreSQL), and the worker's per 1,000 customers. */
function cpuTable(results: SizeResult[], baseline: BaselineResult | undefined): string[] {
  const rows: [string, RunMeasure][] = results.flatMap((r) => [
    [`${count(r.customers)} first`, r.first] as [string, RunMeasure],
    [`${count(r.customers)} unchanged`, r.unchanged] as [string, RunMeasure],
  ]);
  if (baseline) {
    rows.push([`${count(baseline.customers)} sync, no latency`, baseline.sync]);
    rows.push([`${count(baseline.customers)} naive loop`, baseline.naive]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    "CPU time per run (worker: the sync process; simulator: AvePoint's stand-in; PostgreSQL: the server processes of the run's database; rest: the machine's other busy time):",
    `  ${"".padEnd(width)}  ${"worker".padStart(9)}  ${"simulator".padStart(9)}  ${"PostgreSQL".padStart(10)}  ${"rest".padStart(9)}  worker per 1,000 customers`,
    ...rows.flatMap(([label, m]) =>
      m.cpu === null
        ? []
        : [
            `  ${label.padEnd(width)}  ${seconds(m.cpu.workerMs).padStart(9)}  ${seconds(m.cpu.simulatorMs).padStart(9)}  ${seconds(m.cpu.postgresMs).padStart(10)}  ${seconds(m.cpu.otherMs).padStart(9)}  ${m.cpu.workerMsPer1000Customers} ms`,
          ],
    ),
  ];
}

/** Writes the report of `results` and `baseline`, run with `settings`, to stdout. */
export function printReport(
  results: SizeResult[],
  baseline: BaselineResult | undefined,
  settings: BenchSettings,
): void {
  const { pageSize, concurrency, latencyMs, workerFlags, removals, resources } = settings;
  const lines = [
    "",
    `elements-sync benchmark: page size ${pageSize}, concurrency ${concurrency}, ${latencyMs} ms per request` +
      (workerFlags.length > 0 ? `, worker flags ${workerFlags.join(" ")}` : ""),
    "",
    "customers  run           total   API floor    ×floor      fetch  after last page     rows/s   peak RSS  history rows",
  ];
  for (const r of results) {
    for (const [label, m, history] of [
      ["first", r.first, "-"],
      ["unchanged", r.unchanged, String(r.unchanged.historyRowsWritten)],
    ] as const) {
      lines.push(
        [
          count(r.customers).padStart(9),
          label.padEnd(9),
          seconds(m.totalMs).padStart(9),
          seconds(m.apiFloorMs).padStart(10),
          marked(m.ratioToFloor?.toFixed(2) ?? "-", m.targetsMet.ratioToFloor).padStart(8),
          seconds(m.fetchMs).padStart(9),
          marked(seconds(m.afterLastPageMs), m.targetsMet.afterLastPage).padStart(15),
          count(m.rowsPerSecond).padStart(9),
          marked(`${m.peakRssMb} MB`, m.targetsMet.peakRss).padStart(9),
          history.padStart(12),
        ].join("  "),
      );
      if (m.resources !== null && resources.length > 1) {
        const each = Object.entries(m.resources).map(
          ([name, r]) => `${name} ${count(r.requests)} requests, ${count(r.records)} records`,
        );
        lines.push(`${" ".repeat(21)}(${each.join("; ")})`);
      }
    }
  }
  const fromMerge = results.some(
    (r) =>
      r.first.afterLastPageSource === "mergeMs" || r.unchanged.afterLastPageSource === "mergeMs",
  );
  lines.push(
    "",
    `Targets (issue 26; ${MISS.trim()} marks a miss): total ≤ ${TARGETS.ratioToFloor.max} × API floor at ` +
      `${TARGETS.ratioToFloor.sizes.map(count).join(" and ")} customers alone, and at ` +
      `${TARGETS.ratioToFloor.withResourcesSizes.map(count).join(", ")} with services and jobs; ` +
      `peak RSS < ${TARGETS.peakRssMb.max} MB at ${TARGETS.peakRssMb.sizes.map(count).join(", ")}; ` +
      `an unchanged re-run writes ≤ ${TARGETS.rowVersionsPerCustomer} row version per customer, every table together; ` +
      `the naive loop ≥ ${TARGETS.naiveSpeedup} × slower. After the last page (issue 12): ` +
      [...TARGETS.afterLastPageMs].map(([n, ms]) => `≤ ${seconds(ms)} at ${count(n)}`).join(", ") +
      ".",
    "After the last page: from the last page's arrival to the run's commit" +
      (fromMerge
        ? " (this build logs no afterLastPageMs: its mergeMs, lookups and merge after the last page)."
        : "."),
    "History rows: opened or closed by the unchanged re-run in " + HISTORY_TABLES.join(", ") + ".",
    "",
    "Row versions written per table (pg_stat_user_tables: ins = n_tup_ins, upd = n_tup_upd, HOT = n_tup_hot_upd, del = n_tup_del):",
  );
  for (const r of results) {
    lines.push(
      ...writesTable(r),
      `    unchanged re-run: ${marked(r.unchanged.rowVersionsPerCustomer.toFixed(2), r.unchanged.rowVersionsMet)} row versions per customer, every table together`,
    );
  }
  lines.push("", ...cpuTable(results, baseline));
  const removal = results.find((r) => r.removals !== undefined)?.removals;
  if (removal) {
    const { lookup } = removal;
    lines.push(
      "",
      `Removal lookups: ${count(removal.present)} customers present, the API serving all but ${count(removal.leftOut)}: ` +
        (lookup === null
          ? "the run logged no lookup"
          : `${count(lookup.absent)} asked for by id in ${count(lookup.requests)} requests, ${seconds(lookup.durationMs)} (${count(lookup.gone)} gone, ${count(lookup.found)} found)`) +
        `; removed ${removal.customersRemoved === null ? "-" : count(removal.customersRemoved)}` +
        (removal.removedAsExpected ? "" : `${MISS} expected ${count(removal.leftOut)}`) +
        `; run total ${seconds(removal.run.totalMs)}, after the last page ${seconds(removal.run.afterLastPageMs)}.`,
    );
  } else if (removals > 0) {
    lines.push(
      "",
      `Removal lookups: not measured (no size of at least ${count(removals / REMOVAL_FRACTION)} customers for ${count(removals)} removals).`,
    );
  }
  if (baseline) {
    lines.push(
      "",
      `naive baseline at ${count(baseline.customers)} customers, no added latency:`,
      `  naive loop ${seconds(baseline.naive.totalMs)}, elements-sync ${seconds(baseline.sync.totalMs)}: ${marked(`${baseline.speedup}×`, baseline.speedupMet)} faster`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
