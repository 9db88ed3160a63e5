// The merge: turns the records a run accepted into the new state of customers, tenants and
// their histories (customer_status_history, customer_history, tenant_history), batch by
// batch while pages are still being fetched, in the run's own transaction (merge-session.ts,
// live-transaction.ts): readers see the run's changes all at once when it commits, or never.
//
// For each batch, the open history periods that differ from what was sent are closed and a
// period opens wherever none is open, which keeps the history invariants by construction:
// one open period per entity, no gaps (a period closes at the instant the next opens), no
// two equal in a row. What the run did not see is only known at the end: removeUnseen marks
// it removed (complete runs only). A customer served twice in one run is merged again from
// its last copy (merge-redo.ts).
//
// The statements are built once per process from the entity declarations (entities.ts);
// src/sql/merge/ builds them, test/unit/__snapshots__/merge-statements.sql shows them.
import type { Session } from "../db.ts";
import {
  buildChildStatements,
  buildMergeStatements,
  type ChildStatements,
  type EntityStatements,
  type MergeStatements,
} from "../sql/merge/index.ts";
import { planForBatches, planForWholeTables, withSeqScans } from "../sql/merge/planner.ts";
import { run, type Values } from "../sql/merge/statement.ts";
import {
  backupJobs,
  CHILDREN,
  ROOT,
  subscriptions,
  tenants,
  type DeclaredEntity,
} from "./entities.ts";
import { batchValues, compareBatch, writeBatch, type Compared } from "./merge-batch.ts";
import { countRedone, undoRun, type Opened } from "./merge-redo.ts";
import { dedupeById, type AcceptedRecord } from "./records.ts";

export interface MergeInput {
  runId: number;
  /** The instant this run observed the data; stamps periods, first/last seen and removals. */
  observedAt: Date;
}

export interface MergeCounts {
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
}

export const NO_CHANGES: MergeCounts = {
  customersAdded: 0,
  customersRemoved: 0,
  customersRestored: 0,
  statusChanges: 0,
};

export function addCounts(a: MergeCounts, b: MergeCounts, sign: 1 | -1 = 1): MergeCounts {
  return {
    customersAdded: a.customersAdded + sign * b.customersAdded,
    customersRemoved: a.customersRemoved + sign * b.customersRemoved,
    customersRestored: a.customersRestored + sign * b.customersRestored,
    statusChanges: a.statusChanges + sign * b.statusChanges,
  };
}

const STATEMENTS: MergeStatements = buildMergeStatements(
  ROOT.entity,
  CHILDREN.map((child) => child.entity),
);

/**
 * The statements of the entities merged from their own endpoints (resource-merge.ts).
 * Subscriptions are removed with their customer, whatever the services pass did; backup
 * jobs never are.
 */
export const RESOURCE_STATEMENTS = {
  subscriptions: buildChildStatements(subscriptions.entity),
  backupJobs: buildChildStatements(backupJobs.entity),
} as const;

/** Each child's statements with its declaration. */
const CHILD_STATEMENTS: readonly (readonly [DeclaredEntity, ChildStatements])[] =
  STATEMENTS.children.flatMap((statements, i) => {
    const child = CHILDREN[i];
    return child ? [[child, statements] as const] : [];
  });

export function runValues({ runId, observedAt }: MergeInput): Values {
  return { run_id: runId, observed_at: observedAt };
}

/** What the customers table held before the run. */
export interface Before {
  /** Customers present (not removed): the base of the mass-removal guard. */
  present: number;
  /** No customer at all, removed or not: the run's first sightings are all new rows. */
  empty: boolean;
}

/**
 * Call once, in the run's transaction, before the first batch: sets the planner up for
 * batches (planner.ts) and creates the merge's temporary tables.
 */
export async function beginMerge(session: Session): Promise<Before> {
  const { rows } = await run<{ present: number; stored: number }>(
    session,
    STATEMENTS.root.setUp.countPresent,
  );
  await planForBatches(session);
  const removable = [STATEMENTS.root, ...STATEMENTS.children, RESOURCE_STATEMENTS.subscriptions];
  for (const statements of removable) await run(session, statements.setUp.createRemovedTable);
  return { present: rows[0]?.present ?? 0, empty: (rows[0]?.stored ?? 0) === 0 };
}

export interface BatchResult {
  counts: MergeCounts;
  /** Customers of the batch that were present before the run (each counted once per run). */
  presentSeen: number;
  /** Tenants the batch adds to those the run has seen (a customer seen again replaces its list). */
  tenantsSeen: number;
}

/** Where the counted history (status changes) is among the customers' histories. */
const COUNTED = Math.max(
  0,
  ROOT.entity.histories.findIndex((history) => history.counted),
);

/** What the batch changes, for the run's counts; customers merged again are counted apart. */
function countChanges(stored: readonly Compared[]): MergeCounts {
  const counted = stored.filter((c) => c.again !== true);
  return {
    customersAdded: counted.filter((c) => !c.known).length,
    customersRemoved: 0,
    customersRestored: counted.filter((c) => c.known && c.present !== true).length,
    statusChanges: counted.filter((c) => c.present === true && c.changed[COUNTED] === true).length,
  };
}

/**
 * Merges a batch of accepted customers, each once (its last copy), with its tenants. The
 * rows travel as parameters, not read back from staging: staging goes on changing
 * meanwhile (a customer served again replaces its row there), and every statement of a
 * batch must see the same rows. `allNew`: no customer of the batch is stored (a run into
 * an empty database, each seen for the first time), so nothing is compared or taken back.
 */
export async function mergeBatch(
  session: Session,
  input: MergeInput,
  records: readonly AcceptedRecord[],
  allNew = false,
): Promise<BatchResult> {
  if (allNew) return mergeNewBatch(session, input, dedupeById(records));
  const customers = dedupeById(records);
  const values = runValues(input);
  const rows = ROOT.rows(customers);
  let stored = await compareBatch(session, STATEMENTS.root, rows, values);
  const again = customers.filter((_, i) => stored[i]?.again === true).map((c) => c.id);
  const presentSeen = stored.filter((c) => c.present === true && c.again !== true).length;
  let counts = countChanges(stored);
  let tenantsSeen = 0;
  const redo = { ...values, again_ids: again };
  if (again.length > 0) {
    // Merged already by this run: its earlier copy's effects are taken back, counts included.
    const before = await countRedone(session, STATEMENTS, redo);
    counts = addCounts(counts, countsOf(before.opened), -1);
    tenantsSeen -= before.seen.get(tenants) ?? 0;
    await undoRun(session, STATEMENTS, redo);
    stored = await compareBatch(session, STATEMENTS.root, rows, values);
  }
  await writeBatch(session, STATEMENTS.root, rows, stored, values);
  const parentIds = { ...values, parent_ids: customers.map((c) => c.id) };
  for (const [child, statements] of CHILD_STATEMENTS) {
    const childRows = child.rows(customers);
    if (child === tenants) tenantsSeen += childRows.count;
    const compared = await compareBatch(session, statements, childRows, values);
    await writeBatch(session, statements, childRows, compared, values);
    await run(session, statements.batch.noteUnlisted, parentIds);
    if (again.length > 0) {
      const statement = statements.batch.noteUnlistedAgain;
      await run(session, statement, batchValues(child.entity, childRows, statement, redo));
    }
  }
  if (again.length > 0) {
    counts = addCounts(counts, countsOf((await countRedone(session, STATEMENTS, redo)).opened));
  }
  return { counts, presentSeen, tenantsSeen };
}

/**
 * A batch of customers none of which is stored: each row and its tenants inserted, each
 * history's first period opened. What compareBatch would find is known without asking.
 */
async function mergeNewBatch(
  session: Session,
  input: MergeInput,
  customers: readonly AcceptedRecord[],
): Promise<BatchResult> {
  const values = runValues(input);
  const write = async (entity: DeclaredEntity, statements: EntityStatements) => {
    const rows = entity.rows(customers);
    await writeBatch(session, statements, rows, unstored(entity, rows.count), values);
    return rows.count;
  };
  const stored = unstored(ROOT, customers.length);
  await write(ROOT, STATEMENTS.root);
  let tenantsSeen = 0;
  for (const [child, statements] of CHILD_STATEMENTS) {
    const count = await write(child, statements);
    if (child === tenants) tenantsSeen += count;
  }
  return { counts: countChanges(stored), presentSeen: 0, tenantsSeen };
}

/** compareBatch's answer for `count` rows not stored: no period open, every history changed. */
function unstored(entity: DeclaredEntity, count: number): Compared[] {
  const histories = entity.entity.histories;
  return Array.from({ length: count }, () => ({
    known: false,
    present: false,
    again: false,
    periods: histories.map(() => null),
    changed: histories.map(() => true),
  }));
}

function countsOf(opened: Opened): MergeCounts {
  return {
    customersAdded: opened.added,
    customersRemoved: opened.removed,
    customersRestored: opened.restored,
    statusChanges: opened.changed,
  };
}

/**
 * Customers present before the run that it has not seen (merged), in id order: those a
 * complete run asks the API for before marking them removed.
 */
export async function listUnseen(session: Session, input: MergeInput): Promise<string[]> {
  // The run's transaction forbids scans for its batches, but reading every customer is
  // what a scan is for.
  const { rows } = await withSeqScans(session, () =>
    run<{ key: string }>(session, STATEMENTS.root.removal.listUnseen, runValues(input)),
  );
  return rows.map((row) => row.key);
}

/**
 * The end of a complete run: every present customer it did not see is removed with its
 * tenants, as are tenants its customers no longer list. Returns how many customers.
 * `unseen`: how many such customers there are (0 skips the scan for them).
 */
export async function removeUnseen(
  session: Session,
  input: MergeInput,
  unseen: number,
): Promise<number> {
  const values = runValues(input);
  const { root, children } = STATEMENTS;
  // Scans and hash joins allowed from here to the commit (withSeqScans would forbid scans
  // again after its statement).
  await planForWholeTables(session);
  let removed = 0;
  if (unseen > 0) {
    const result = await run(session, root.removal.collectUnseen, values);
    removed = result.rowCount ?? 0;
    await run(session, root.removal.analyzeRemoved);
    await removeCollected(session, root, values);
    // Their present children go with them, subscriptions included.
    for (const child of [...children, RESOURCE_STATEMENTS.subscriptions]) {
      await run(session, child.removal.collectChildrenOfRemoved);
    }
  }
  for (const child of children) await removeCollectedChildren(session, child, values);
  return removed;
}

/**
 * The end of every run: the subscriptions collected for removal (noted by a complete
 * services pass within its guard, or of customers removeUnseen removed) are removed.
 */
export async function removeCollectedSubscriptions(
  session: Session,
  input: MergeInput,
): Promise<void> {
  await planForWholeTables(session);
  await removeCollectedChildren(session, RESOURCE_STATEMENTS.subscriptions, runValues(input));
}

async function removeCollectedChildren(
  session: Session,
  child: ChildStatements,
  values: Values,
): Promise<void> {
  const { rows } = await run<{ n: number }>(session, child.removal.countRemoved);
  if ((rows[0]?.n ?? 0) === 0) return;
  await run(session, child.removal.analyzeRemoved);
  await removeCollected(session, child, values);
}

/** The rows in an entity's table of rows to remove: periods closed, removed ones opened. */
async function removeCollected(
  session: Session,
  { removal }: EntityStatements,
  values: Values,
): Promise<void> {
  for (const { close, open } of removal.periods) {
    await run(session, close, values);
    await run(session, open, values);
  }
  await run(session, removal.markRemoved, values);
}
