// NOTIFY_ON's job:failed and service:expiring:<days> against a real database and a real
// HTTP receiver. The runs, jobs and subscriptions are written the way the merge writes them
// (test/support/resource-fixtures.ts), so what fires is exactly what the test set up.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readNotifyConfig } from "../src/config.ts";
import { MAX_LISTED_CHANGES, type WebhookBody } from "../src/notify/message.ts";
import { createRunNotifier, type NotificationResult } from "../src/notify/notifier.ts";
import type { RunSummary } from "../src/sync/sync.ts";
import { captureLogs } from "./support/harness.ts";
import { manualText } from "./support/manual.ts";
import {
  insertRun,
  migratedDatabase,
  observeCustomer,
  observeJob,
  observeSubscription,
  type FixtureRun,
  type FixtureSubscription,
} from "./support/resource-fixtures.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";

const DAY = 86_400_000;
const RUNNING = 1;
const FINISHED = 2;
const FAILED = 3;
const WITH_EXCEPTION = 4;
const FAILED_TO_START = 7;

let fixture: Awaited<ReturnType<typeof migratedDatabase>>;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

/** What the sync reports of a run that succeeded; the notification takes its counts from it. */
function succeededRun(run: FixtureRun): RunSummary {
  return {
    runId: run.id,
    status: "succeeded",
    durationMs: 1200,
    apiTotalCount: 3,
    pagesFetched: 1,
    customersSeen: 3,
    tenantsSeen: 0,
    rejectedRecords: 0,
    newFields: [],
    complete: true,
    incompleteReason: null,
    removalsWithheld: 0,
    warning: null,
    customersAdded: 0,
    customersRemoved: 0,
    customersRestored: 0,
    statusChanges: 1,
    resources: [],
    changes: null,
  };
}

async function notify(run: FixtureRun, notifyOn: string) {
  const r = (receiver = await startWebhookReceiver());
  const config = readNotifyConfig({ NOTIFY_WEBHOOK_URL: r.url, NOTIFY_ON: notifyOn });
  if (!config) throw new Error("unreachable");
  const results: NotificationResult[] = [];
  const notifier = createRunNotifier({
    config,
    pool: fixture.database.pool,
    log: captureLogs().logger,
    onResult: (result) => results.push(result),
  });
  await notifier.afterRun(succeededRun(run));
  return { posts: r.posts.map((post) => post.body as WebhookBody), results };
}

/** The body's shape: every key path with the type of its value (arrays by their first item). */
function shape(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return [`${path}[]`, ...shape(value[0], `${path}[0]`)];
  if (value === null || typeof value !== "object")
    return [`${path}: ${value === null ? "null" : typeof value}`];
  return Object.entries(value).flatMap(([key, item]) => shape(item, `${path}.${key}`));
}

function readmeExample(): unknown {
  const match = /<!-- notification-example -->\s*```json\n([\s\S]*?)```/.exec(manualText());
  if (!match?.[1]) throw new Error("the manual has no notification example");
  return JSON.parse(match[1]);
}

const NOTIFY_ON = "job:failed, service:expiring:30, service:expiring:7, status:failed";
let first: FixtureRun;
let second: FixtureRun;
const now = Date.now();
const inDays = (days: number) => new Date(now + days * DAY);

/** Subscriptions of Contoso (c-a) and Fabrikam (c-b), by what happens to them. */
const subscription = (service: string, customerId = "c-a"): FixtureSubscription => ({
  customerId,
  service,
  source: "AvePoint pooled subscription",
  subscriptionName: "",
  purchasedUserSeats: 50,
});

beforeAll(async () => {
  fixture = await migratedDatabase();
  const { db } = fixture;
  // Run 1, two days ago; run 2, now.
  first = await insertRun(db, { at: inDays(-2) });
  second = await insertRun(db, { at: new Date(now) });
  const contoso = { id: "c-a", organization: "Contoso" };
  const fabrikam = { id: "c-b", organization: "Fabrikam <!here> & Co" };
  await observeCustomer(db, first, { ...contoso, jobStatus: 1 });
  await observeCustomer(db, first, { ...fabrikam, jobStatus: 2 });
  await observeCustomer(db, second, { ...contoso, jobStatus: 2 });
  await observeCustomer(db, second, { ...fabrikam, jobStatus: 2 });

  const job = (customerId: string, jobId: string, status: number) => ({
    customerId,
    jobId,
    status,
    name: `Backup ${jobId}`,
  });
  for (const [jobId, before] of [
    ["j-turns", RUNNING],
    ["j-stays-failed", FAILED],
    ["j-failing-to-failing", FAILED],
    ["j-fine", FINISHED],
  ] as const) {
    await observeJob(db, first, job("c-a", jobId, before));
  }
  await observeJob(db, second, job("c-a", "j-turns", FAILED));
  await observeJob(db, second, job("c-a", "j-stays-failed", FAILED));
  await observeJob(db, second, job("c-a", "j-failing-to-failing", WITH_EXCEPTION));
  await observeJob(db, second, job("c-a", "j-fine", FINISHED));
  // First seen failing, in a module the code table does not know.
  await observeJob(db, second, {
    ...job("c-b", "j-new", FAILED_TO_START),
    name: null,
    jobModule: 9999,
  });

  const seen = async (run: FixtureRun, s: FixtureSubscription, removed = false) =>
    observeSubscription(db, run, s, removed);
  // Within 30 days at both runs: entered the window before run 2.
  await seen(first, { ...subscription("Already within"), expirationDate: inDays(10) });
  await seen(second, { ...subscription("Already within"), expirationDate: inDays(10) });
  // 29 days from now was 31 days from run 1: time brought it into the window.
  await seen(first, { ...subscription("Time passed"), expirationDate: inDays(29) });
  await seen(second, {
    ...subscription("Time passed"),
    purchasedUserSeats: 60,
    expirationDate: inDays(29),
  });
  // A new expiration date inside the window (a renewal cancelled, a term shortened).
  await seen(first, { ...subscription("Date moved"), expirationDate: inDays(400) });
  await seen(second, { ...subscription("Date moved"), expirationDate: inDays(15) });
  // First seen 5 days before it expires: enters both windows.
  await seen(second, {
    ...subscription("New", "c-b"),
    subscriptionName: "Tier 2",
    expirationDate: inDays(5),
  });
  // Renewed out of the window, expiring later, or removed: nothing to say.
  await seen(first, { ...subscription("Renewed"), expirationDate: inDays(3) });
  await seen(second, { ...subscription("Renewed"), expirationDate: inDays(368) });
  await seen(second, { ...subscription("Later"), expirationDate: inDays(60) });
  await seen(first, { ...subscription("Removed"), expirationDate: inDays(40) });
  await seen(second, { ...subscription("Removed"), expirationDate: inDays(4) }, true);
  await seen(second, { ...subscription("No date"), expirationDate: null });
});

afterAll(async () => {
  await (fixture as typeof fixture | undefined)?.close();
});

describe("job:failed and service:expiring:<days>", () => {
  it("post once for a run that turned jobs failing and brought subscriptions into a window, naming each", async () => {
    const { posts, results } = await notify(second, NOTIFY_ON);
    expect(results).toEqual(["sent"]);
    expect(posts).toHaveLength(1);
    const [body] = posts;
    if (!body) throw new Error("unreachable");
    expect(body.reasons).toEqual([
      "job:failed",
      "service:expiring:30",
      "service:expiring:7",
      "status:failed",
    ]);
    // Turned failing, or first seen failing; not failing before and after, not failing to failing.
    expect(body.failedJobs).toEqual({
      total: 2,
      listed: [
        {
          customerId: "c-a",
          organization: "Contoso",
          jobId: "j-turns",
          name: "Backup j-turns",
          module: 355,
          moduleLabel: "Cloud Backup for Azure",
          previousStatus: RUNNING,
          previousStatusLabel: "Running",
          status: FAILED,
          statusLabel: "Failed",
        },
        {
          customerId: "c-b",
          organization: "Fabrikam <!here> & Co",
          jobId: "j-new",
          name: null,
          module: 9999,
          moduleLabel: null,
          previousStatus: null,
          previousStatusLabel: null,
          status: FAILED_TO_START,
          statusLabel: "Failed to start",
        },
      ],
    });
    // Soonest first; each with its days left at the run.
    const listed = (days: number) =>
      body.expiringServices
        .find((window) => window.days === days)
        ?.listed.map((s) => [s.customerId, s.service, s.subscriptionName, s.daysLeft]);
    expect(listed(30)).toEqual([
      ["c-b", "New", "Tier 2", 5],
      ["c-a", "Date moved", null, 15],
      ["c-a", "Time passed", null, 29],
    ]);
    expect(listed(7)).toEqual([["c-b", "New", "Tier 2", 5]]);
    expect(body.expiringServices.map((w) => [w.days, w.total])).toEqual([
      [7, 1],
      [30, 3],
    ]);
    const [expiring] = body.expiringServices[1]?.listed ?? [];
    expect(expiring).toEqual({
      customerId: "c-b",
      organization: "Fabrikam <!here> & Co",
      service: "New",
      source: "AvePoint pooled subscription",
      subscriptionName: "Tier 2",
      expirationDate: inDays(5).toISOString().slice(0, 10),
      daysLeft: 5,
    });

    const day = (days: number) => inDays(days).toISOString().slice(0, 10);
    expect(body.text.split("\n\n").slice(1)).toEqual([
      "1 customer moved into a watched job status:",
      "- Contoso (`c-a`): Working → Failed",
      "2 backup jobs turned failing:",
      "- Contoso (`c-a`): job `j-turns` Backup j-turns (Cloud Backup for Azure): Running → Failed\n" +
        "- Fabrikam &lt;!here&gt; &amp; Co (`c-b`): job `j-new` (no name) (module 9999): new → Failed to start",
      "1 subscription now expires within 7 days:",
      `- Fabrikam &lt;!here&gt; &amp; Co (\`c-b\`): New (AvePoint pooled subscription, Tier 2) expires ${day(5)}, in 5 days`,
      "3 subscriptions now expire within 30 days:",
      [
        `- Fabrikam &lt;!here&gt; &amp; Co (\`c-b\`): New (AvePoint pooled subscription, Tier 2) expires ${day(5)}, in 5 days`,
        `- Contoso (\`c-a\`): Date moved (AvePoint pooled subscription) expires ${day(15)}, in 15 days`,
        `- Contoso (\`c-a\`): Time passed (AvePoint pooled subscription) expires ${day(29)}, in 29 days`,
      ].join("\n"),
    ]);
    // README shows this body as it is, every list with an item.
    expect(shape(readmeExample()).sort()).toEqual(shape(body).sort());
  });

  it("say nothing more about jobs still failing or subscriptions already in their window", async () => {
    const third = await insertRun(fixture.db);
    for (const jobId of ["j-turns", "j-stays-failed"]) {
      await observeJob(fixture.db, third, { customerId: "c-a", jobId, status: FAILED });
    }
    await observeSubscription(fixture.db, third, {
      ...subscription("Time passed"),
      expirationDate: inDays(29),
    });
    const { posts } = await notify(third, NOTIFY_ON);
    expect(posts).toEqual([]);
  });

  it("list 50 jobs at most and say how many more; leave out what NOTIFY_ON does not ask for", async () => {
    const run = await insertRun(fixture.db);
    await observeCustomer(fixture.db, run, { id: "c-many", organization: "Many", jobStatus: 2 });
    for (let i = 0; i < MAX_LISTED_CHANGES + 3; i++) {
      const jobId = `m-${String(i).padStart(2, "0")}`;
      await observeJob(fixture.db, run, { customerId: "c-many", jobId, status: FAILED });
    }
    const { posts } = await notify(run, "job:failed");
    const [body] = posts;
    expect(body?.reasons).toEqual(["job:failed"]);
    expect(body?.failedJobs.total).toBe(MAX_LISTED_CHANGES + 3);
    expect(body?.failedJobs.listed).toHaveLength(MAX_LISTED_CHANGES);
    expect(body?.failedJobs.listed[0]?.jobId).toBe("m-00");
    expect(body?.text).toContain("\n- and 3 more");
    expect(body?.expiringServices).toEqual([]);
    expect(body?.statusChanges).toEqual({ total: 0, listed: [] });

    // The same run asked about subscriptions alone: nothing entered a window, no post.
    expect((await notify(run, "service:expiring:30")).posts).toEqual([]);
  });
});
