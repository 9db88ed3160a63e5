// The merge of the resources fetched after customers: a services page's subscriptions and a
// customer's backup jobs, in the run's transaction, with the statements the entity
// declarations build (entities.ts, src/sql/merge/): compared with what is stored, then
// written where they differ, periods closed and opened by the same rules as customers'.
import type { Session } from "../db.ts";
import type { ChildStatements } from "../sql/merge/index.ts";
import { run, type Values } from "../sql/merge/statement.ts";
import { backupJobs, subscriptions, type JobRow, type SubscriptionRow } from "./entities.ts";
import { batchValues, compareBatch, writeBatch } from "./merge-batch.ts";
import { RESOURCE_STATEMENTS, runValues, type MergeInput } from "./merge.ts";

/** A services page's subscriptions, grouped by the customer that lists them. */
export interface ListedSubscriptions {
  customerId: string;
  /** Products with an identity listed once (duplicates are rejected before). */
  rows: readonly SubscriptionRow[];
  /** Whether the customer listed an identity twice: none of its subscriptions is removed. */
  hadDuplicates: boolean;
}

/**
 * Merges the subscriptions of the customers a services page lists (each customer once, its
 * last copy). A customer the pass listed already (offset paging repeated it) is merged again
 * from this copy: what the run did to its subscriptions is taken back first. Subscriptions a
 * customer no longer lists are noted for removal, unless it listed an identity twice.
 * `firstListed`: the customers the pass lists for the first time (recordServicesListed).
 */
export async function mergeSubscriptions(
  session: Session,
  input: MergeInput,
  listed: readonly ListedSubscriptions[],
  firstListed: ReadonlySet<string>,
): Promise<void> {
  if (listed.length === 0) return;
  const statements = RESOURCE_STATEMENTS.subscriptions;
  const values = runValues(input);
  const again = listed.map((c) => c.customerId).filter((id) => !firstListed.has(id));
  const redo = { ...values, again_ids: again };
  if (again.length > 0) await undoChild(session, statements, redo);
  const rows = subscriptions.rows(listed.flatMap((customer) => customer.rows));
  const compared = await compareBatch(session, statements, rows, values);
  await writeBatch(session, statements, rows, compared, values);
  const complete = listed.filter((customer) => !customer.hadDuplicates);
  const parentIds = complete.map((customer) => customer.customerId);
  await run(session, statements.batch.noteUnlisted, { ...values, parent_ids: parentIds });
  const againComplete = again.filter((id) => parentIds.includes(id));
  if (againComplete.length > 0) {
    const statement = statements.batch.noteUnlistedAgain;
    const againValues = { ...values, again_ids: againComplete };
    await run(session, statement, batchValues(subscriptions.entity, rows, statement, againValues));
  }
}

/**
 * Takes back what this run did to the children of the customers `again_ids`: periods it
 * opened are deleted, those it closed reopen, rows it inserted go, rows it updated get back
 * what their reopened periods say, and what it noted for removal is forgotten.
 */
async function undoChild(session: Session, statements: ChildStatements, values: Values) {
  for (const { deleteOpened, reopenClosed } of statements.redo.undo) {
    await run(session, deleteOpened, values);
    await run(session, reopenClosed, values);
  }
  await run(session, statements.redo.deleteInserted, values);
  for (const restore of statements.redo.restoreRows) await run(session, restore, values);
  await run(session, statements.redo.forgetUnlisted, values);
}

/**
 * Merges the backup jobs of some customers (each job once, its last copy): the status has
 * history, the rest is kept current. Jobs the API no longer lists are left as they are.
 */
export async function mergeJobs(
  session: Session,
  input: MergeInput,
  jobs: readonly JobRow[],
): Promise<void> {
  if (jobs.length === 0) return;
  const statements = RESOURCE_STATEMENTS.backupJobs;
  const values = runValues(input);
  const rows = backupJobs.rows(jobs);
  const compared = await compareBatch(session, statements, rows, values);
  await writeBatch(session, statements, rows, compared, values);
}
