// What each receiver renders: data from the API stays text in Slack's mrkdwn, in Teams'
// Markdown and in the Adaptive Card Teams Workflows take; NOTIFY_FORMAT (or the webhook's
// host) picks the body.
import { describe, expect, it } from "vitest";
import { readNotifyConfig } from "../../src/config.ts";
import { bodyFormat } from "../../src/notify/format.ts";
import { webhookBody, type RunNotification } from "../../src/notify/message.ts";

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
