// NOTIFY_WEBHOOK_URL and NOTIFY_ON as the environment gives them.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNotifyConfig } from "../../src/config.ts";

const URL = "https://hooks.example.com/services/T0/B0/secret";

describe("readNotifyConfig", () => {
  it("is off without NOTIFY_WEBHOOK_URL (an empty value counts as unset)", () => {
    expect(readNotifyConfig({})).toBeUndefined();
    expect(readNotifyConfig({ NOTIFY_WEBHOOK_URL: "", NOTIFY_ON: "failed" })).toBeUndefined();
  });

  it("reads the URL from NOTIFY_WEBHOOK_URL_FILE (a Docker or Kubernetes secret)", () => {
    const dir = mkdtempSync(join(tmpdir(), "es-notify-"));
    try {
      const file = join(dir, "webhook");
      writeFileSync(file, `${URL}\n`);
      expect(readNotifyConfig({ NOTIFY_WEBHOOK_URL_FILE: file })?.webhookUrl).toBe(URL);
      expect(() =>
        readNotifyConfig({ NOTIFY_WEBHOOK_URL_FILE: file, NOTIFY_WEBHOOK_URL: URL }),
      ).toThrow("Set either NOTIFY_WEBHOOK_URL or NOTIFY_WEBHOOK_URL_FILE, not both.");
      writeFileSync(file, "not a url");
      const error: unknown = (() => {
        try {
          return readNotifyConfig({ NOTIFY_WEBHOOK_URL_FILE: file });
        } catch (caught) {
          return caught;
        }
      })();
      expect(String(error)).toMatch(/NOTIFY_WEBHOOK_URL/);
      expect(String(error)).not.toContain("not a url");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("defaults NOTIFY_ON to failed, warning and status:failed", () => {
    expect(readNotifyConfig({ NOTIFY_WEBHOOK_URL: URL })).toEqual({
      webhookUrl: URL,
      triggers: [{ kind: "failed" }, { kind: "warning" }, { kind: "status", jobStatus: 2 }],
      format: "auto",
    });
  });

  it("reads job statuses by label in any case, with - or _ for spaces, or by code; drops repeats", () => {
    const config = readNotifyConfig({
      NOTIFY_WEBHOOK_URL: URL,
      NOTIFY_ON:
        " status:No-Backup-Update, status:multiple_issues_found ,status:2,STATUS:Failed,,Failed",
    });
    expect(config?.triggers).toEqual([
      { kind: "status", jobStatus: 6 },
      { kind: "status", jobStatus: 4 },
      { kind: "status", jobStatus: 2 },
      { kind: "failed" },
    ]);
  });

  it("reads job:failed and service:expiring:<days> in any case; drops repeats", () => {
    const config = readNotifyConfig({
      NOTIFY_WEBHOOK_URL: URL,
      NOTIFY_ON:
        "Job:Failed, service:expiring:30, SERVICE:EXPIRING:7,job:failed,service:expiring:30",
    });
    expect(config?.triggers).toEqual([
      { kind: "job-failed" },
      { kind: "service-expiring", days: 30 },
      { kind: "service-expiring", days: 7 },
    ]);
  });

  it("names the variable and the entry that is wrong, never the URL", () => {
    expect(() => readNotifyConfig({ NOTIFY_ON: "failed,often" })).toThrow(
      'NOTIFY_ON: "often" is not a trigger; use failed, warning, status:<job status>, job:failed or service:expiring:<days>, separated by commas.',
    );
    for (const entry of [
      "service:expiring",
      "service:expiring:0",
      "service:expiring:soon",
      "service:expiring:3651",
    ]) {
      expect(() => readNotifyConfig({ NOTIFY_ON: entry })).toThrow(
        `NOTIFY_ON: "${entry}" needs a number of days from 1 to 3650, such as service:expiring:30.`,
      );
    }
    expect(() => readNotifyConfig({ NOTIFY_ON: " , " })).toThrow(
      /^NOTIFY_ON must list at least one/,
    );
    for (const url of [
      "not a url secret",
      "file:///etc/secret",
      "https://u:secret@hooks.example.com/x",
    ]) {
      let message = "";
      try {
        readNotifyConfig({ NOTIFY_WEBHOOK_URL: url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^NOTIFY_WEBHOOK_URL must be an http\(s\) URL/);
      expect(message).not.toContain("secret");
    }
  });
});
