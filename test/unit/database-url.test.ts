// describeDatabaseUrl: the one way a database URL is shown (messages, the demo's output).
import { describe, expect, it } from "vitest";
import { describeDatabaseUrl } from "../../src/db.ts";

describe("describeDatabaseUrl", () => {
  it("hides the password wherever the URL writes it", () => {
    expect(describeDatabaseUrl("postgresql://u:secret@db:5432/x")).toBe(
      "postgresql://u:***@db:5432/x",
    );
    expect(
      describeDatabaseUrl(
        "postgresql://u@db/x?password=secret&sslmode=require&SSLPassword=key-pass",
      ),
    ).toBe("postgresql://u@db/x?password=***&sslmode=require&SSLPassword=***");
    expect(describeDatabaseUrl("postgres://db/x?sslrootcert=/ca.pem")).toBe(
      "postgres://db/x?sslrootcert=/ca.pem",
    );
  });
});
