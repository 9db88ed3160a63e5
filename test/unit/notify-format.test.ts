// What each receiver renders: data from the API stays text in Slack's mrkdwn, in Teams'
// Markdown and in the Adaptive Card Teams Workflows take; NOTIFY_FORMAT (or the webhook's
// host) picks the body.
import { describe, expect, it } from "vitest";
import { readNotifyConfig } from "../../src/config.ts";
import { bodyFormat } from "../../src/notify/format.ts";
import { webhookBody, type RunNotification, type WebhookBody } from "../../src/notify/message.ts";

const HOSTILE = "[click](https://evil.example) *bold* _it_ ~gone~ <!channel> & # Title `x`";

const notification: RunNotification = {
  reasons: ["status:failed"],
  summary: {
    runId: 7,
    status: "succeeded",
    durationMs: 1500,
    apiTotalCount: 1,
    pagesFetched: 1,
    customersSeen: 1,
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
  },
  changes: [
    {
      customerId: "c-<1>",
      organization: HOSTILE,
      changeKind: "changed",
      previousStatus: "Working",
      status: "Failed",
    },
  ],
  changesTotal: 1,
  failedJobs: { listed: [], total: 0 },
  expiringServices: [],
};

/** The same run with a failed job and an expiring subscription, each named by the API's text. */
const withResources: RunNotification = {
  ...notification,
  reasons: ["job:failed", "service:expiring:30"],
  changes: [],
  changesTotal: 0,
  failedJobs: {
    total: 3,
    listed: [
      {
        customerId: "c-1",
        organization: HOSTILE,
        jobId: "j-<1>",
        name: "[nightly](https://evil.example)",
        jobModule: 355,
        moduleLabel: "Exchange Online",
        status: 3,
        statusLabel: "Failed",
        previousStatus: 1,
        previousStatusLabel: "Running",
      },
      {
        customerId: "c-2",
        organization: null,
        jobId: "j-2",
        name: null,
        jobModule: 999,
        moduleLabel: null,
        status: 7,
        statusLabel: "Failed to start",
        previousStatus: null,
        previousStatusLabel: null,
      },
    ],
  },
  expiringServices: [
    {
      days: 30,
      total: 2,
      listed: [
        {
          customerId: "c-1",
          organization: "Contoso",
          service: "Cloud Backup for Microsoft 365",
          source: "Marketplace",
          subscriptionName: "*Tier* 2",
          expirationDate: "2026-12-20",
          daysLeft: 14,
        },
        {
          customerId: "c-3",
          organization: "Fabrikam",
          service: "Fly Migration",
          source: null,
          subscriptionName: null,
          expirationDate: "2026-12-07",
          daysLeft: 1,
        },
      ],
    },
  ],
};

const textOf = (body: unknown) => (body as { text: string }).text;
const ZWSP = "\u200B";

describe("notification formats", () => {
  it("slack: entities for & < >, and no pairing of * _ ~ (mrkdwn has no backslash escapes)", () => {
    const line = textOf(webhookBody(notification, "slack")).split("\n").at(-1);
    expect(line).toBe(
      `- [click](https://evil.example) *${ZWSP}bold*${ZWSP} _${ZWSP}it_${ZWSP} ~${ZWSP}gone~${ZWSP} ` +
        "&lt;!channel&gt; &amp; # Title 'x' (`c-&lt;1&gt;`): Working → Failed",
    );
    // Slack links are <url|text> only: no < survives, so no link or mention does.
    expect(line).not.toMatch(/</);
    expect(webhookBody(notification, "json")).toEqual(webhookBody(notification, "slack"));
  });

  it("teams: every Markdown punctuation of the data escaped, so [text](url) is no link", () => {
    const line = textOf(webhookBody(notification, "teams")).split("\n").at(-1);
    expect(line).toBe(
      "- \\[click\\]\\(https://evil\\.example\\) \\*bold\\* \\_it\\_ \\~gone\\~ \\<\\!channel\\> \\& \\# Title 'x' " +
        "(`c-<1>`): Working → Failed",
    );
    expect(line).not.toMatch(/[^\\]\]\(/);
  });

  it("teams-workflow: an Adaptive Card, one text block per paragraph, escaped as Markdown", () => {
    const body = webhookBody(notification, "teams-workflow") as {
      type: string;
      attachments: {
        contentType: string;
        content: { type: string; version: string; body: { type: string; text: string }[] };
      }[];
    };
    expect(body.type).toBe("message");
    expect(body.attachments).toHaveLength(1);
    const [card] = body.attachments;
    expect(card?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card?.content).toMatchObject({ type: "AdaptiveCard", version: "1.4" });
    const blocks = card?.content.body ?? [];
    expect(blocks.map((block) => block.type)).toEqual(["TextBlock", "TextBlock", "TextBlock"]);
    expect(blocks[0]?.text).toMatch(/^elements-sync run 7 succeeded in 1\.5 s/);
    expect(blocks[2]?.text).toBe(textOf(webhookBody(notification, "teams")).split("\n\n").at(-1));
  });

  it("lists failed jobs and expiring subscriptions: customer, job or subscription, the API's text escaped", () => {
    const paragraphs = textOf(webhookBody(withResources, "slack")).split("\n\n");
    expect(paragraphs.slice(1)).toEqual([
      "3 backup jobs turned failing:",
      [
        `- [click](https://evil.example) *${ZWSP}bold*${ZWSP} _${ZWSP}it_${ZWSP} ~${ZWSP}gone~${ZWSP} ` +
          "&lt;!channel&gt; &amp; # Title 'x' (`c-1`): job `j-&lt;1&gt;` [nightly](https://evil.example) " +
          "(Exchange Online): Running → Failed",
        "- (no organization) (`c-2`): job `j-2` (no name) (module 999): new → Failed to start",
        "- and 1 more",
      ].join("\n"),
      "2 subscriptions now expire within 30 days:",
      [
        `- Contoso (\`c-1\`): Cloud Backup for Microsoft 365 (Marketplace, *${ZWSP}Tier*${ZWSP} 2) expires 2026-12-20, in 14 days`,
        "- Fabrikam (`c-3`): Fly Migration expires 2026-12-07, in 1 day",
      ].join("\n"),
    ]);
    const teams = textOf(webhookBody(withResources, "teams"));
    expect(teams).toContain("job `j-<1>` \\[nightly\\]\\(https://evil\\.example\\)");
    expect(teams).not.toMatch(/[^\\]\]\(/);

    const json = webhookBody(withResources, "json") as WebhookBody;
    expect(json.reasons).toEqual(["job:failed", "service:expiring:30"]);
    expect(json.failedJobs.total).toBe(3);
    expect(json.failedJobs.listed[1]).toEqual({
      customerId: "c-2",
      organization: null,
      jobId: "j-2",
      name: null,
      module: 999,
      moduleLabel: null,
      previousStatus: null,
      previousStatusLabel: null,
      status: 7,
      statusLabel: "Failed to start",
    });
    expect(json.expiringServices).toEqual([
      {
        days: 30,
        total: 2,
        listed: withResources.expiringServices[0]?.listed.map((service) => ({ ...service })),
      },
    ]);
    // Without these triggers, the JSON still has both, empty: receivers read one shape.
    const plain = webhookBody(notification, "json") as WebhookBody;
    expect(plain.failedJobs).toEqual({ total: 0, listed: [] });
    expect(plain.expiringServices).toEqual([]);
  });

  it("auto picks the format by the webhook's host; NOTIFY_FORMAT overrides it", () => {
    expect(bodyFormat("auto", "https://hooks.slack.com/services/T/B/x")).toBe("slack");
    expect(bodyFormat("auto", "https://contoso.webhook.office.com/webhookb2/x")).toBe("teams");
    expect(
      bodyFormat("auto", "https://prod-01.westeurope.logic.azure.com:443/workflows/x/triggers"),
    ).toBe("teams-workflow");
    expect(
      bodyFormat("auto", "https://default1.environment.api.powerplatform.com/powerautomate/x"),
    ).toBe("teams-workflow");
    expect(bodyFormat("auto", "https://receiver.example/hook")).toBe("json");
    expect(bodyFormat("teams-workflow", "https://receiver.example/hook")).toBe("teams-workflow");
    const url = "https://hooks.slack.com/services/T/B/x";
    expect(readNotifyConfig({ NOTIFY_WEBHOOK_URL: url })?.format).toBe("auto");
    expect(readNotifyConfig({ NOTIFY_WEBHOOK_URL: url, NOTIFY_FORMAT: "teams" })?.format).toBe(
      "teams",
    );
    expect(() => readNotifyConfig({ NOTIFY_WEBHOOK_URL: url, NOTIFY_FORMAT: "html" })).toThrow(
      'NOTIFY_FORMAT must be one of auto, json, slack, teams, teams-workflow; got "html".',
    );
  });
});
