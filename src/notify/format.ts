// What a notification looks like to each receiver: Slack's mrkdwn, the Markdown of Teams'
// incoming webhooks, or an Adaptive Card for Teams Workflows (which take nothing else).
// Data from the API is shown as text, never as markup: an organization named
// `[click](https://evil.example)` must not become a link, nor `<!channel>` a mention.

export const NOTIFY_FORMATS = ["auto", "json", "slack", "teams", "teams-workflow"] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];
/** A format once `auto` is decided. */
export type BodyFormat = Exclude<NotifyFormat, "auto">;

/** `auto`: by the webhook's host, as Slack and Microsoft hand them out; `json` otherwise. */
export function bodyFormat(format: NotifyFormat, webhookUrl: string): BodyFormat {
  if (format !== "auto") return format;
  const host = new URL(webhookUrl).hostname.toLowerCase();
  if (host === "hooks.slack.com") return "slack";
  if (host.endsWith(".webhook.office.com") || host === "outlook.office.com") return "teams";
  if (
    host.endsWith(".logic.azure.com") ||
    host.endsWith(".powerplatform.com") ||
    host.endsWith(".powerautomate.com")
  ) {
    return "teams-workflow";
  }
  return "json";
}

/** Text that a format's markup shows as it is. */
export type Escape = (text: string) => string;

const ZERO_WIDTH_SPACE = "\u200B";

/**
 * Slack mrkdwn has no backslash escapes: `&`, `<` and `>` become entities (Slack's own
 * rule; `<…>` is its link and mention syntax), and a zero-width space after `*`, `_` and `~`
 * keeps them from pairing into bold, italics or strike-through.
 */
export const slackText: Escape = (text) =>
  text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll(/[*_~]/g, (mark) => `${mark}${ZERO_WIDTH_SPACE}`);

/** In a Slack code span only the entities matter: Slack decodes them everywhere. */
export const slackCode: Escape = (text) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/**
 * Markdown (Teams, Adaptive Cards): every punctuation character with a meaning gets a
 * backslash (CommonMark's escape), so links, emphasis, headings and HTML stay text.
 */
export const markdownText: Escape = (text) => text.replaceAll(/[\\*_~[\]()#+\-!|<>{}&.]/g, "\\$&");

/**
 * The message Teams Workflows' "post to a channel when a webhook request is received"
 * expects: one Adaptive Card, a text block per paragraph.
 */
export function adaptiveCardMessage(paragraphs: readonly string[]): unknown {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: paragraphs.map((text) => ({ type: "TextBlock", text, wrap: true })),
        },
      },
    ],
  };
}
