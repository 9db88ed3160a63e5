// The simulator over HTTP as an Elements client meets it: a token from its identity
// service's endpoint, for the customers pages a test then asks for.
import { expect } from "vitest";
import { CUSTOMERS_PERMISSION } from "../../src/elements/resources.ts";

/** The form the simulator's demo app registration signs in with. */
export const SECRET_FORM = {
  grant_type: "client_credentials",
  client_id: "demo-client",
  client_secret: "demo-secret",
  scope: CUSTOMERS_PERMISSION,
};

/** POSTs `form` (the demo registration's unless given) to the simulator's token endpoint. */
export function requestToken(
  simulator: { url: string },
  form: Readonly<Record<string, string>> = SECRET_FORM,
): Promise<Response> {
  return fetch(`${simulator.url}/connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
}

/** The demo registration's access token; the test fails unless the simulator issues one. */
export async function getToken(simulator: { url: string }): Promise<string> {
  const response = await requestToken(simulator);
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}
