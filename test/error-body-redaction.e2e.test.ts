// An error body that holds a token (a JWT after "Bearer", inside JSON) has the token cut
// out and keeps the rest of its text, from the API and from the identity service. Driven
// through the real CLI.
import { afterEach, describe, expect, it } from "vitest";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";

/** Any JWT, not one the worker sent: the pattern must catch it on its own. */
const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzb21lb25lLWVsc2UifQ.c2lnbmF0dXJlLW9mLWFub3RoZXItdG9rZW4";

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function failedRun(r: CliRig): Promise<{ error: string; output: string }> {
  const result = await r.run(["sync"]);
  expect(result.code).toBe(1);
  const [run] = await r.db.query<{ error: string }>("SELECT error FROM sync_runs");
  if (!run) throw new Error("no run recorded");
  return { error: run.error, output: result.stdout + result.stderr };
}

describe("an error body holding a JWT", () => {
  it("from the API: the token is redacted, the text around it kept", async () => {
    const r = (rig = await createCliRig());
    r.simulator.injectFault({
      status: 400,
      body: JSON.stringify({ error: "bad_request", detail: `Bearer ${JWT}`, hint: "ask again" }),
    });
    const { error, output } = await failedRun(r);
    expect(error).toBe(
      'The Elements API rejected the request as invalid (400): {"error":"bad_request","detail":"Bearer [redacted]","hint":"ask again"}',
    );
    expect(output).not.toContain(JWT);
  });

  it("from the identity service: the token is redacted, the text around it kept", async () => {
    const r = (rig = await createCliRig());
    r.simulator.injectFault({
      endpoint: "token",
      status: 401,
      body: JSON.stringify({
        error: "invalid_client",
        error_description: `assertion ${JWT} is not trusted; register the certificate`,
      }),
    });
    const { error, output } = await failedRun(r);
    expect(error).toMatch(
      /^The identity service refused the app's credentials, 401 \(invalid_client: assertion \[redacted\] is not trusted; register the certificate\)\./,
    );
    expect(output).not.toContain(JWT);
  });
});
