// Run notifications: real runs against the simulator and a real database, posted to a local
// HTTP receiver over the network, including a receiver that is down and one that never
// answers. The notification never fails the run, ends within its bound, and never shows
// its URL.
import { afterEach, describe, expect, it } from "vitest";
import { readNotifyConfig } from "../src/config.ts";
import { MAX_LISTED_CHANGES, type WebhookBody } from "../src/notify/message.ts";
import {
  createRunNotifier,
  type NotificationResult,
  type NotifyConfig,
  type RunNotifier,
} from "../src/notify/notifier.ts";
import type { DeliveryLimits } from "../src/notify/webhook.ts";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { freePort, runCli, simulatorEnv, spawnCli } from "./support/cli.ts";
import { captureLogs, openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { syncChecked } from "./support/runs.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";

const FAILED = 2;
const WORKING = 1;

/** Small limits keep the down and hanging receivers quick; the rules are the same. */
const LIMITS: DeliveryLimits = {
  attemptTimeoutMs: 300,
  totalTimeoutMs: 1_500,
  retries: 2,
  firstRetryDelayMs: 50,
};

let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function withStatus(customers: readonly SimulatedCustomer[], jobStatus: number) {
  return customers.map((customer) => ({ ...customer, jobStatus }));
}

function config(url: string, notifyOn?: string): NotifyConfig {
  const read = readNotifyConfig({ NOTIFY_WEBHOOK_URL: url, NOTIFY_ON: notifyOn });
  if (!read) throw new Error("unreachable");
  return read;
}

interface Rig {
  notifier: RunNotifier;
  results: NotificationResult[];
  logs: Record<string, unknown>[];
  raw: string[];
}

function notifierFor(h: Harness, notifyConfig: NotifyConfig): Rig {
  const { logger, lines, raw } = captureLogs();
  const results: NotificationResult[] = [];
  const notifier = createRunNotifier({
    config: notifyConfig,
    pool: h.database.pool,
    log: logger,
    onResult: (result) => results.push(result),
    limits: LIMITS,
  });
  return { notifier, results, logs: lines, raw };
}

const bodyOf = (r: WebhookReceiver, index = 0) => r.posts[index]?.body as WebhookBody;

describe("run notifications", () => {
  it("post once after a run that moved customers into a watched status: Markdown text for Slack and Teams, the facts beside it", async () => {
    const customers = sampleCustomers(60);
    const h = await openHarness({ customers: withStatus(customers, WORKING) });
    const r = (receiver = await startWebhookReceiver());
    const rig = notifierFor(h, config(r.url));
    await rig.notifier.afterRun(await syncChecked(h)); // nothing failed: no post
    expect(r.requests).toBe(0);

    // 55 go Failed, one of them with an organization that would break Slack's markup.
    const next = withStatus(customers, FAILED).map((customer, i) =>
      i >= 55 ? { ...customer, jobStatus: WORKING } : customer,
    );
    const tricky = next[0];
    if (!tricky) throw new Error("unreachable");
    tricky.organization = "<!channel> A & B `x`\nnext line";
    await h.serve(next);
    const run = await syncChecked(h);
    await rig.notifier.afterRun(run);

    expect(r.posts).toHaveLength(1);
    expect(r.posts[0]?.contentType).toBe("application/json");
    const body = bodyOf(r);
    expect(body.reasons).toEqual(["status:failed"]);
    expect(body.run).toMatchObject({
      id: run.runId,
      status: "succeeded",
      complete: true,
      error: null,
      counts: { customersSeen: 60, statusChanges: 55, customersAdded: 0, customersRemoved: 0 },
    });
    expect(body.statusChanges.total).toBe(55);
    expect(body.statusChanges.listed).toHaveLength(MAX_LISTED_CHANGES);
    const expected = await h.db.query<{ customerId: string; organization: string }>(
      `SELECT id AS "customerId", organization FROM customers WHERE job_status = $1
       ORDER BY organization, id LIMIT $2`,
      [FAILED, MAX_LISTED_CHANGES],
    );
    expect(body.statusChanges.listed).toEqual(
      expected.map((row) => ({ ...row, changeKind: "changed", from: "Working", to: "Failed" })),
    );

    expect(body.text).toMatch(new RegExp(`^elements-sync run ${run.runId} succeeded in `));
    expect(body.text).toContain("55 customers moved into a watched job status:");
    expect(body.text).toContain("- and 5 more");
    const listed = body.text.split("\n").filter((line) => line.startsWith("- "));
    expect(listed).toHaveLength(MAX_LISTED_CHANGES + 1);
    expect(listed[0]).toMatch(/^- .+ \(`.+`\): Working → Failed$/);
    // Slack reads <…> as a link or a mention: data from the API arrives as plain text.
    expect(body.text).toContain(
      `&lt;!channel&gt; A &amp; B 'x' next line (\`${tricky.id}\`): Working → Failed`,
    );
    expect(rig.results).toEqual(["sent"]);
    expect(rig.logs).toContainEqual(
      expect.objectContaining({ msg: "sent the run notification", runId: run.runId }),
    );
    // Without job:failed and service:expiring, their lists are there, empty (README's example,
    // every list with an item, is checked in notify-resources.e2e.test.ts).
    expect(body.failedJobs).toEqual({ total: 0, listed: [] });
    expect(body.expiringServices).toEqual([]);
  });

  it("post after a failed run and after a run the mass-removal guard held back, as NOTIFY_ON says", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers: withStatus(customers, WORKING) });
    const r = (receiver = await startWebhookReceiver());
    const rig = notifierFor(h, config(r.url, "failed, warning"));
    await rig.notifier.afterRun(await syncChecked(h));

    h.simulator.injectFault({ status: 400 });
    const failedRun = await syncChecked(h);
    await rig.notifier.afterRun(failedRun);
    await h.serve([]);
    const guarded = await syncChecked(h);
    await rig.notifier.afterRun(guarded);

    expect(r.posts).toHaveLength(2);
    expect(bodyOf(r, 0)).toMatchObject({
      reasons: ["failed"],
      run: { id: failedRun.runId, status: "failed", complete: false },
    });
    expect(bodyOf(r, 0).run.error).toMatch(/400/);
    expect(bodyOf(r, 0).text).toMatch(
      new RegExp(`^elements-sync run ${failedRun.runId} failed after .*\\n\\nError: \`.*400`),
    );
    expect(bodyOf(r, 1)).toMatchObject({
      reasons: ["warning"],
      run: { id: guarded.runId, status: "succeeded", counts: { removalsWithheld: 10 } },
      statusChanges: { total: 0, listed: [] },
    });
    expect(bodyOf(r, 1).text).toContain("Warning: mass-removal guard: the API no longer lists 10");
    expect(rig.results).toEqual(["sent", "sent"]);
  });

  it("post an Adaptive Card with NOTIFY_FORMAT=teams-workflow, the API's text escaped as Markdown", async () => {
    const customers = withStatus(sampleCustomers(3), WORKING);
    const h = await openHarness({ customers });
    const r = (receiver = await startWebhookReceiver());
    const read = readNotifyConfig({ NOTIFY_WEBHOOK_URL: r.url, NOTIFY_FORMAT: "teams-workflow" });
    if (!read) throw new Error("unreachable");
    const rig = notifierFor(h, read);
    await syncChecked(h);
    const next = withStatus(customers, FAILED).map((customer, i) =>
      i === 0 ? { ...customer, organization: "[click](https://evil.example)" } : customer,
    );
    await h.serve(next);
    await rig.notifier.afterRun(await syncChecked(h));

    expect(r.posts).toHaveLength(1);
    const body = r.posts[0]?.body as {
      type: string;
      attachments: { contentType: string; content: { body: { text: string }[] } }[];
    };
    expect(body.type).toBe("message");
    expect(body.attachments[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    const texts = body.attachments[0]?.content.body.map((block) => block.text) ?? [];
    expect(texts.join("\n")).toContain("\\[click\\]\\(https://evil\\.example\\)");
    expect(rig.results).toEqual(["sent"]);
  });

  it("do not post when NOTIFY_WEBHOOK_URL is unset, or for a run stopped on purpose", async () => {
    const h = await openHarness({ customers: sampleCustomers(10) });
    const r = (receiver = await startWebhookReceiver());
    const { logger } = captureLogs();
    const unset = createRunNotifier({ config: undefined, pool: h.database.pool, log: logger });
    h.simulator.injectFault({ status: 400 });
    await unset.afterRun(await syncChecked(h));

    // A run stopped by SIGTERM or Ctrl-C ends failed, "interrupted": stopped on purpose.
    const rig = notifierFor(h, config(r.url));
    await rig.notifier.afterRun({
      runId: 99,
      status: "failed",
      durationMs: 1,
      error: "interrupted",
      apiTotalCount: null,
      pagesFetched: 0,
      customersSeen: 0,
      tenantsSeen: 0,
      rejectedRecords: 0,
      newFields: [],
    });
    expect(r.requests).toBe(0);
    expect(rig.results).toEqual([]);
  });

  it("retry a receiver that answers 5xx or 429, and give up at once on another 4xx", async () => {
    const h = await openHarness({ customers: sampleCustomers(10) });
    h.simulator.injectFault({ status: 400, times: 2 });
    const failedRun = await syncChecked(h);

    const retried = (receiver = await startWebhookReceiver([503, 429]));
    const rig = notifierFor(h, config(retried.url));
    await rig.notifier.afterRun(failedRun);
    expect(retried.posts).toHaveLength(3);
    expect(rig.results).toEqual(["sent"]);
    await retried.close();

    const refused = (receiver = await startWebhookReceiver([404]));
    const refusedRig = notifierFor(h, config(refused.url));
    await refusedRig.notifier.afterRun(await syncChecked(h));
    expect(refused.posts).toHaveLength(1);
    expect(refusedRig.results).toEqual(["failed"]);
    expect(refusedRig.logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: "could not send the run notification",
        err: "the receiver answered HTTP 404",
      }),
    );
  });

  it("end within their bound when the receiver is down or never answers: logged, counted, the URL never shown", async () => {
    const h = await openHarness({ customers: sampleCustomers(10) });
    h.simulator.injectFault({ status: 400, times: 2 });
    const down = `http://127.0.0.1:${await freePort()}/services/T0SECRET/B0SECRET/xoxSecretToken123`;
    const downRig = notifierFor(h, config(down));
    let started = performance.now();
    await downRig.notifier.afterRun(await syncChecked(h));
    expect(performance.now() - started).toBeLessThan(LIMITS.totalTimeoutMs + 500);
    expect(downRig.results).toEqual(["failed"]);
    expect(downRig.logs).toContainEqual(
      expect.objectContaining({ level: 40, err: "the request failed (ECONNREFUSED)" }),
    );

    const hanging = (receiver = await startWebhookReceiver("hang"));
    const hangRig = notifierFor(h, config(hanging.url));
    const run = await syncChecked(h);
    started = performance.now();
    await hangRig.notifier.afterRun(run);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(LIMITS.attemptTimeoutMs);
    expect(took).toBeLessThan(LIMITS.totalTimeoutMs + 500);
    // Every attempt reached the receiver and timed out there.
    expect(hanging.requests).toBeGreaterThanOrEqual(2);
    expect(hangRig.results).toEqual(["failed"]);
    expect(hangRig.logs.at(-1)).toMatchObject({ level: 40, runId: run.runId });
    expect(String(hangRig.logs.at(-1)?.err)).toMatch(/^no (answer|success) within \d+ ms$/);

    for (const line of [...downRig.raw, ...hangRig.raw]) {
      expect(line).not.toContain("xoxSecretToken123");
      expect(line).not.toContain("B0SECRET");
    }
  });
});

describe("notifications from the command line", () => {
  // Four CLI runs, one of them waiting out the 10 s bound: room for a busy machine.
  it(
    "sync posts after a run that matches; a receiver that hangs delays its exit by at most the bound; the URL is never printed",
    { timeout: 180_000 },
    async () => {
      const customers = sampleCustomers(10);
      const h = await openHarness({ customers: withStatus(customers, WORKING) });
      const r = (receiver = await startWebhookReceiver());
      const env = { ...simulatorEnv(h.db.url, h.simulator.url), NOTIFY_WEBHOOK_URL: r.url };
      expect((await runCli(["sync"], env)).code).toBe(0);
      expect(r.requests).toBe(0);

      await h.serve(withStatus(customers, FAILED));
      const changed = await runCli(["sync", "--no-migrate"], { ...env, LOG_LEVEL: "debug" });
      expect(changed.code).toBe(0);
      expect(r.posts).toHaveLength(1);
      expect(r.posts[0]?.path).toBe(new URL(r.url).pathname);
      expect(bodyOf(r)).toMatchObject({ reasons: ["status:failed"], statusChanges: { total: 10 } });
      expect(changed.stderr + changed.stdout).not.toContain("xoxSecretToken123");

      // Hangs: the command still ends, within the default bound (10 s) after the run.
      const hanging = await startWebhookReceiver("hang");
      try {
        h.simulator.injectFault({ status: 400 });
        const sync = spawnCli(["sync", "--no-migrate"], {
          ...env,
          NOTIFY_WEBHOOK_URL: hanging.url,
        });
        const exit = await sync.exited;
        const exitedAt = Date.now();
        expect(exit.code).toBe(1);
        const failedAt = sync.logs().find((line) => line.msg === "sync run failed")?.time;
        expect(typeof failedAt).toBe("number");
        expect(exitedAt - Number(failedAt)).toBeLessThan(10_000 + 2_000);
        expect(hanging.requests).toBeGreaterThanOrEqual(1);
        expect(sync.logs()).toContainEqual(
          expect.objectContaining({ level: 40, msg: "could not send the run notification" }),
        );
        expect(sync.stderr() + sync.stdout()).not.toContain("xoxSecretToken123");
      } finally {
        await hanging.close();
      }
    },
  );

  it("a bad NOTIFY_ON or NOTIFY_WEBHOOK_URL stops sync and start before anything is written, naming the variable", async () => {
    const h = await openHarness({ customers: sampleCustomers(5) });
    const env = simulatorEnv(h.db.url, h.simulator.url);
    const cases: [Record<string, string>, RegExp][] = [
      [
        { NOTIFY_WEBHOOK_URL: "http://127.0.0.1:1/x", NOTIFY_ON: "failed,sometimes" },
        /NOTIFY_ON: "sometimes" is not a trigger/,
      ],
      [{ NOTIFY_ON: "status:exploded" }, /NOTIFY_ON: "status:exploded" names no job status/],
      [{ NOTIFY_WEBHOOK_URL: "ftp://hooks.example/Secret42" }, /error: NOTIFY_WEBHOOK_URL must be/],
      [
        { NOTIFY_WEBHOOK_URL: "https://user:Secret42@hooks.example/x" },
        /error: NOTIFY_WEBHOOK_URL must be/,
      ],
    ];
    // Every case against sync, the first against start too (both read the same variables).
    const runs = cases.map(([variables, message]) => ({ command: "sync", variables, message }));
    const [first] = runs;
    if (first) runs.push({ ...first, command: "start" });
    for (const { command, variables, message } of runs) {
      const result = await runCli([command], { ...env, ...variables });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain("Secret42");
    }
    expect(await h.db.query("SELECT id FROM sync_runs")).toEqual([]);
  });

  it("start posts after its runs and counts each notification's fate on /metrics", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers: withStatus(customers, FAILED) });
    const port = await freePort();
    const down = `http://127.0.0.1:${await freePort()}/services/xoxSecretToken123`;
    const worker = spawnCli(["start"], {
      ...simulatorEnv(h.db.url, h.simulator.url),
      NOTIFY_WEBHOOK_URL: down,
      SYNC_ON_START: "true",
      HTTP_PORT: String(port),
    });
    try {
      // The first run moves 10 customers into Failed (they are new): one notification, refused.
      await expect
        .poll(
          async () => {
            const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
              (response) => response.text(),
              () => "",
            );
            return /^elements_sync_notifications_total\{result="failed"\} 1$/m.test(text);
          },
          { timeout: 30_000, interval: 200 },
        )
        .toBe(true);
      expect(worker.logs()).toContainEqual(
        expect.objectContaining({ msg: "could not send the run notification" }),
      );
      expect(worker.stderr()).not.toContain("xoxSecretToken123");
    } finally {
      worker.child.kill("SIGTERM");
      expect((await worker.exited).code).toBe(0);
    }
  });
});
