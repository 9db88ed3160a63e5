// reporting.attribute_changes gains old_label and new_label (issue 25): on a database with
// history, every existing column answers as before, with its comment, and a reader granted
// the view before the upgrade reads the labels too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeLabel } from "../src/elements/codes.ts";
import { connectAs } from "./support/database.ts";
import { newCustomers, type Harness } from "./support/harness.ts";
import { harnessBeforeUpgrade, upgrade, READER_PASSWORD } from "./support/migrations.ts";

const UPGRADE = "20261204160000_attribute_change_labels";
const READER = `es_labels_reader_${Math.random().toString(16).slice(2, 10)}`;
const COLUMNS = `changed_at, run_id, entity, customer_id, tenant_id, organization, field,
                 old_value, new_value`;

let h: Harness;
const customers = newCustomers(8, 41, "labels");

const rows = (db: Harness["db"]) =>
  db.query(
    `SELECT ${COLUMNS} FROM reporting.attribute_changes
     ORDER BY run_id, customer_id, tenant_id NULLS FIRST, field`,
  );

const comments = (db: Harness["db"]) =>
  db.query(
    `SELECT a.attname, col_description(a.attrelid, a.attnum) AS comment
     FROM pg_attribute a
     WHERE a.attrelid = 'reporting.attribute_changes'::regclass AND a.attnum > 0
     ORDER BY a.attnum`,
  );

beforeAll(async () => {
  h = await harnessBeforeUpgrade(UPGRADE, READER, { customers });
  await h.db.query(`GRANT SELECT ON reporting.attribute_changes TO ${READER}`);
  await h.sync();
  // A known job status to Failed (2), a management mode, and a code this version does not know.
  const edited = structuredClone(customers);
  const [first, second, third] = edited;
  if (!first || !second || !third) throw new Error("unreachable");
  first.jobStatus = first.jobStatus === 2 ? 1 : 2;
  second.managementMode = (second.managementMode + 1) % 3;
  third.jobStatus = 77;
  await h.serve(edited);
  await h.sync();
});

afterAll(async () => {
  await h.close();
});

describe(`migration ${UPGRADE} on a database with history`, () => {
  it("keeps every column and comment, and labels codes in two new columns", async () => {
    const before = await rows(h.db);
    const commentsBefore = await comments(h.db);
    expect((await upgrade(h)).applied).toContain(UPGRADE);
    expect(await rows(h.db)).toEqual(before);
    expect((await comments(h.db)).slice(0, commentsBefore.length)).toEqual(commentsBefore);

    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    try {
      const { rows: labelled } = await reader.query<{
        customer_id: string;
        field: string;
        old_label: string | null;
        new_label: string | null;
        new_value: string | null;
      }>(
        `SELECT customer_id, field, old_label, new_label, new_value
         FROM reporting.attribute_changes
         WHERE run_id = 2 ORDER BY customer_id, field`,
      );
      const [first, second, third] = customers;
      if (!first || !second || !third) throw new Error("unreachable");
      const status = first.jobStatus === 2 ? 1 : 2;
      const mode = (second.managementMode + 1) % 3;
      expect(labelled).toEqual([
        {
          customer_id: first.id,
          field: "job_status",
          old_label: codeLabel("jobStatus", first.jobStatus),
          new_label: codeLabel("jobStatus", status),
          new_value: String(status),
        },
        {
          customer_id: second.id,
          field: "management_mode",
          old_label: codeLabel("managementMode", second.managementMode),
          new_label: codeLabel("managementMode", mode),
          new_value: String(mode),
        },
        {
          customer_id: third.id,
          field: "job_status",
          old_label: codeLabel("jobStatus", third.jobStatus),
          new_label: "unknown (77)",
          new_value: "77",
        },
      ]);
      // Labels, not digits (codeLabel agrees with the code tables).
      expect(labelled.map((row) => row.new_label)).not.toContain(String(status));
      // Other fields: the value itself.
      const { rows: presence } = await reader.query<{ same: boolean }>(
        `SELECT bool_and(old_label IS NOT DISTINCT FROM old_value
                         AND new_label IS NOT DISTINCT FROM new_value) AS same
         FROM reporting.attribute_changes WHERE field NOT IN ('job_status', 'management_mode')`,
      );
      expect(presence).toEqual([{ same: true }]);
    } finally {
      await reader.end();
    }
  });
});
