// The merge's statements, built once per process from the entity declarations
// (src/sync/entities.ts): a root entity (customers) and its children (tenants), each in
// four groups, in the order a run uses them. A reader reads them all, generated, in
// test/unit/__snapshots__/merge-statements.sql.
import * as batch from "./batch.ts";
import { checkEntity, type Entity, type History } from "./entity.ts";
import * as redo from "./redo.ts";
import * as removal from "./removal.ts";
import type { Statement } from "./statement.ts";

export interface PeriodStatements {
  history: History;
  close: Statement;
  open: Statement;
}

/** The run's temporary tables, created at its start. */
interface SetUp {
  createRemovedTable: Statement;
}

/** A batch: compared with what is stored, then written where it differs. */
interface Batch {
  compareBatch: Statement;
  updateRows: Statement;
  insertRows: Statement;
  periods: PeriodStatements[];
}

/** Taking back what the run did for the rows a batch merges again. */
interface Redo {
  undo: { deleteOpened: Statement; reopenClosed: Statement }[];
}

/** The end of a complete run. */
interface Removal {
  analyzeRemoved: Statement;
  periods: PeriodStatements[];
  markRemoved: Statement;
}

export interface EntityStatements {
  entity: Entity;
  setUp: SetUp;
  batch: Batch;
  redo: Redo;
  removal: Removal;
}

export interface RootStatements extends EntityStatements {
  setUp: SetUp & { countPresent: Statement };
  redo: Redo & { countOpened: Statement };
  removal: Removal & { listUnseen: Statement; collectUnseen: Statement };
}

export interface ChildStatements extends EntityStatements {
  batch: Batch & { noteUnlisted: Statement; noteUnlistedAgain: Statement };
  redo: Redo & {
    countSeen: Statement;
    deleteInserted: Statement;
    restoreRows: Statement[];
    forgetUnlisted: Statement;
  };
  removal: Removal & { collectChildrenOfRemoved: Statement; countRemoved: Statement };
}

export interface MergeStatements {
  root: RootStatements;
  children: ChildStatements[];
}

function common(entity: Entity): EntityStatements {
  checkEntity(entity);
  return {
    entity,
    setUp: { createRemovedTable: removal.createRemovedTable(entity) },
    batch: {
      compareBatch: batch.compareBatch(entity),
      updateRows: batch.updateRows(entity),
      insertRows: batch.insertRows(entity),
      periods: entity.histories.map((history) => ({
        history,
        close: batch.closePeriods(history),
        open: batch.openPeriods(entity, history),
      })),
    },
    redo: {
      undo: entity.histories.map((history) => ({
        deleteOpened: redo.deleteOpened(entity, history),
        reopenClosed: redo.reopenClosed(entity, history),
      })),
    },
    removal: {
      analyzeRemoved: removal.analyzeRemoved(entity),
      periods: entity.histories.map((history) => ({
        history,
        close: removal.closeRemoved(entity, history),
        open: removal.openRemoved(entity, history),
      })),
      markRemoved: removal.markRemoved(entity),
    },
  };
}

export function buildMergeStatements(root: Entity, children: readonly Entity[]): MergeStatements {
  if (root.parent) throw new Error(`${root.table}: the root entity has a parent`);
  for (const child of children) {
    if (child.parent?.entity !== root) {
      throw new Error(`${child.table}: a child entity's parent is ${root.table}`);
    }
  }
  const rootCommon = common(root);
  return {
    root: {
      ...rootCommon,
      setUp: { countPresent: removal.countPresent(root), ...rootCommon.setUp },
      redo: { countOpened: redo.countOpened(root), ...rootCommon.redo },
      removal: {
        listUnseen: removal.listUnseen(root),
        collectUnseen: removal.collectUnseen(root),
        ...rootCommon.removal,
      },
    },
    children: children.map(buildChildStatements),
  };
}

/**
 * The statements of a child entity: those `buildMergeStatements` builds for each child, and
 * those of an entity a run merges from its own endpoint (subscriptions, backup jobs).
 */
export function buildChildStatements(child: Entity): ChildStatements {
  if (!child.parent) throw new Error(`${child.table}: a child entity declares its parent`);
  const childCommon = common(child);
  return {
    ...childCommon,
    batch: {
      ...childCommon.batch,
      noteUnlisted: batch.noteUnlisted(child),
      noteUnlistedAgain: batch.noteUnlistedAgain(child),
    },
    redo: {
      countSeen: redo.countSeen(child),
      ...childCommon.redo,
      deleteInserted: redo.deleteInserted(child),
      restoreRows: child.histories.map((history) => redo.restoreRows(child, history)),
      forgetUnlisted: redo.forgetUnlisted(child),
    },
    removal: {
      collectChildrenOfRemoved: removal.collectChildrenOfRemoved(child),
      countRemoved: removal.countRemoved(child),
      ...childCommon.removal,
    },
  };
}

export const GROUPS = ["setUp", "batch", "redo", "removal"] as const;

/** The statements of one group of `statements`, in the order they are listed there. */
export function listStatements(
  statements: EntityStatements,
  group: (typeof GROUPS)[number],
): Statement[] {
  const found: Statement[] = [];
  const walk = (value: unknown) => {
    if (typeof value !== "object" || value === null) return;
    if ("text" in value && "params" in value) {
      found.push(value as Statement);
      return;
    }
    for (const [key, inner] of Object.entries(value)) if (key !== "history") walk(inner);
  };
  walk(statements[group]);
  return found;
}
