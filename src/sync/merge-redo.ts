// The redo of a customer served again in one run (offset paging over a changing list can
// repeat one): it is merged again from its last copy, after what the run did to its
// history is taken back, so that no period opens and closes at the same instant.
import type { Session } from "../db.ts";
import type { MergeStatements } from "../sql/merge/index.ts";
import { run, type Values } from "../sql/merge/statement.ts";
import { CHILDREN, type DeclaredEntity } from "./entities.ts";

/** What the run changed for customers, from the status periods it opened (merge.ts counts them). */
export interface Opened {
  added: number;
  removed: number;
  restored: number;
  changed: number;
}

/**
 * What the run changed so far for the customers `values.again_ids` (from the status
 * periods it opened), and how many rows of each child entity it has seen for them.
 */
export async function countRedone(
  session: Session,
  statements: MergeStatements,
  values: Values,
): Promise<{ opened: Opened; seen: Map<DeclaredEntity, number> }> {
  const { rows } = await run<Opened>(session, statements.root.redo.countOpened, values);
  const seen = new Map<DeclaredEntity, number>();
  for (const [i, child] of statements.children.entries()) {
    const declared = CHILDREN[i];
    if (!declared) continue;
    const { rows: counted } = await run<{ n: number }>(session, child.redo.countSeen, values);
    seen.set(declared, counted[0]?.n ?? 0);
  }
  return { opened: rows[0] ?? { added: 0, removed: 0, restored: 0, changed: 0 }, seen };
}

/**
 * Takes back what this run did to the histories of customers `values.again_ids` (periods
 * it opened are deleted, periods it closed reopen) and to their children (rows it inserted
 * are deleted, rows it updated get back the attributes and presence of their reopened
 * periods), so that they can be merged again from their last copy.
 */
export async function undoRun(
  session: Session,
  statements: MergeStatements,
  values: Values,
): Promise<void> {
  for (const entity of [statements.root, ...statements.children]) {
    for (const { deleteOpened, reopenClosed } of entity.redo.undo) {
      await run(session, deleteOpened, values);
      await run(session, reopenClosed, values);
    }
  }
  for (const child of statements.children) {
    await run(session, child.redo.deleteInserted, values);
    for (const restore of child.redo.restoreRows) await run(session, restore, values);
    await run(session, child.redo.forgetUnlisted, values);
  }
}
