// The bench's PostgreSQL side, apart from the runs it measures: every figure about row
// versions and history rows comes from here, read over plain admin connections so that
// reading never counts as a write of the run being measured, and so that the driver can
// drop its database even when it is interrupted mid-run.
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { createLogger } from "../src/logger.ts";
import { migrate } from "../src/migrations.ts";

/** The tables whose rows a run opens or closes; an unchanged re-run should touch none. */
export const HISTORY_TABLES = [
  "customer_status_history",
  "customer_history",
  "tenant_history",
  "subscription_history",
  "backup_job_status_history",
] as const;

async function admin<T extends pg.QueryResultRow>(url: string, sql: string, params?: unknown[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

/** A freshly migrated, empty database `database` on adminUrl's server; returns its URL. */
export async function freshDatabase(adminUrl: string, database: string): Promise<string> {
  await dropDatabase(adminUrl, database);
  await admin(adminUrl, `CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  try {
    await migrate(pool, { log: createLogger("warn") });
  } finally {
    await pool.end();
  }
  return url.toString();
}

/** Row versions a table gained, from pg_stat_user_tables. */
export interface TableWrites {
  ins: number;
  upd: number;
  hotUpd: number;
  del: number;
}

export type TableStats = Record<string, TableWrites>;

/**
 * pg_stat_user_tables once every backend that wrote has flushed its counts. A backend
 * flushes when it goes idle (at most once a second; later ones wait up to 10 s) and always
 * when it exits; the runs' backends exit when their process closes its pool. So: wait until
 * no other backend is connected to the database, then read (each read after
 * pg_stat_clear_snapshot(), so none comes from a cached snapshot) until two reads 100 ms
 * apart agree.
 */
export async function settledTableStats(url: string): Promise<TableStats> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = performance.now() + 60_000;
    let previous: string | undefined;
    for (;;) {
      if (performance.now() > deadline) throw new Error("table statistics did not settle");
      const [others] = (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )
      ).rows;
      if ((others?.n ?? 0) > 0) {
        previous = undefined;
        await sleep(50);
        continue;
      }
      await client.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await client.query<{ name: string } & TableWrites>(
        `SELECT CASE WHEN schemaname = 'public' THEN relname ELSE schemaname || '.' || relname END AS name,
                n_tup_ins::float8 AS ins, n_tup_upd::float8 AS upd,
                n_tup_hot_upd::float8 AS "hotUpd", n_tup_del::float8 AS del
         FROM pg_stat_user_tables ORDER BY 1`,
      );
      const stats: TableStats = Object.fromEntries(
        rows.map(({ name, ...writes }) => [name, writes]),
      );
      const read = JSON.stringify(stats);
      if (read === previous) return stats;
      previous = read;
      await sleep(100);
    }
  } finally {
    await client.end();
  }
}

/** What each table gained from `before` to `after`; tables that gained nothing are left out. */
export function tableDeltas(before: TableStats, after: TableStats): TableStats {
  const deltas: TableStats = {};
  for (const [name, now] of Object.entries(after)) {
    const then = before[name] ?? { ins: 0, upd: 0, hotUpd: 0, del: 0 };
    const delta = {
      ins: now.ins - then.ins,
      upd: now.upd - then.upd,
      hotUpd: now.hotUpd - then.hotUpd,
      del: now.del - then.del,
    };
    if (delta.ins !== 0 || delta.upd !== 0 || delta.hotUpd !== 0 || delta.del !== 0) {
      deltas[name] = delta;
    }
  }
  return deltas;
}

/** History rows a run opened or closed, per history table. */
export async function historyRows(
  url: string,
  runId: number | null,
): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const table of HISTORY_TABLES) {
    const [row] = await admin<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM ${table} WHERE opened_by_run_id = $1 OR closed_by_run_id = $1`,
      [runId],
    );
    rows[table] = row?.n ?? -1;
  }
  return rows;
}
