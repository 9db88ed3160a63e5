// A login role for BI tools that reads the reporting views and calls the reporting
// functions (customers_at, tenants_at), and nothing else. The views run with their owner's
// rights, and the functions are SECURITY DEFINER, so neither needs a right on the base tables; the role
// gets no table privilege, no CREATE anywhere, no temporary tables, and read-only
// transactions by default. Nor can it take the run lock (see src/sync/lock.ts): that
// needs UPDATE on sync_run_lock, which only its owner has.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import pg from "pg";
import { inTransaction, type Session } from "../db.ts";
import { ConfigError, NotMigratedError, SyncError, UsageError } from "../errors.ts";
import * as sql from "../sql/access.ts";

/** Lowercase so BI tools never need to quote it; `pg_` names are reserved by PostgreSQL. */
export function checkRoleName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name) || name.startsWith("pg_")) {
    throw new UsageError(
      `role name "${name}" is not allowed: use 1 to 63 lowercase letters, digits and underscores, ` +
        "starting with a letter or underscore and not with pg_.",
    );
  }
  return name;
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL would store for `password` (RFC 5802/7677), computed
 * here so the password itself never travels in a statement a server log could record.
 * SASLprep is the identity for printable ASCII; other passwords are NFKC-normalized, its main step.
 */
export function scramVerifier(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations = 4096,
): string {
  const normalized = /^[\x20-\x7e]*$/.test(password) ? password : password.normalize("NFKC");
  const salted = pbkdf2Sync(normalized, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** What makes an existing role more than a reporting reader; empty when it is safe to take over. */
function reasonsNotToTouch(role: sql.ExistingRole): string[] {
  const reasons: string[] = [];
  if (role.is_current_user) reasons.push("it is the user running this command");
  if (role.superuser) reasons.push("it is a superuser");
  if (role.privileged)
    reasons.push("it may create roles or databases, replicate or bypass row security");
  if (role.member_of.length > 0) reasons.push(`it is a member of ${role.member_of.join(", ")}`);
  if (role.owns_objects) reasons.push("it owns database objects");
  return reasons;
}

export interface AccessResult {
  created: boolean;
  database: string;
  views: string[];
  /** The reporting functions it may call (the point-in-time ones, customers_at and tenants_at). */
  functions: string[];
}

/** What the role's sessions may take; defaults in ROLE_LIMITS. */
export interface RoleLimits {
  /** statement_timeout of its sessions: a runaway report is cancelled. */
  statementTimeoutMs: number;
  /**
   * idle_in_transaction_session_timeout: a session left in an open transaction (holding
   * its tables against the migrator's DDL) is ended.
   */
  idleInTransactionTimeoutMs: number;
  /** CONNECTION LIMIT: sessions at once. */
  connectionLimit: number;
}

export const ROLE_LIMITS: RoleLimits = {
  statementTimeoutMs: 5 * 60_000,
  idleInTransactionTimeoutMs: 60_000,
  connectionLimit: 10,
};

export interface GrantOptions {
  limits?: Partial<RoleLimits>;
  /** Take over an existing role that holds privileges elsewhere, revoking them. */
  replace?: boolean;
}

/** Creates or updates `role` in one transaction: all of it happens, or none. */
export async function grantReportingAccess(
  db: pg.Pool | Session,
  role: string,
  password: string,
  options: GrantOptions = {},
): Promise<AccessResult> {
  checkRoleName(role);
  const limits = { ...ROLE_LIMITS, ...options.limits };
  try {
    return await inTransaction(db, (client) =>
      grant(client, { role, password, limits, replace: options.replace === true }),
    );
  } catch (error) {
    throw explainPermission(error);
  }
}

interface Grant {
  role: string;
  password: string;
  limits: RoleLimits;
  replace: boolean;
}

async function grant(client: Session, wanted: Grant): Promise<AccessResult> {
  const { role, password, limits } = wanted;
  const { owner, database } = await sql.readReportingSchema(client);
  if (!owner) {
    throw new NotMigratedError();
  }
  const found = await sql.readExistingRole(client, role);
  if (found) {
    const reasons = reasonsNotToTouch(found);
    if (reasons.length > 0) {
      throw new ConfigError(
        `role ${role} already exists and is not a reporting-only role (${reasons.join("; ")}); choose another name.`,
      );
    }
  }
  if (found) await takeOver(client, wanted);
  await sql.setLoginRole(client, {
    role,
    exists: found !== undefined,
    connectionLimit: limits.connectionLimit,
    verifier: scramVerifier(password),
  });
  await sql.setRoleDefaults(client, role, limits);
  await sql.grantReportingOnly(client, role, database);
  await sql.grantFutureReporting(client, { owner, role });
  // Every role may create temporary tables by default, through PUBLIC, and a grant to PUBLIC
  // cannot be revoked from one role: it is revoked from PUBLIC, and given back by name to the
  // owner of elements-sync's schema, whose merge uses a temporary table. The database's owner
  // keeps it too; any other role that needs temporary tables here needs a GRANT of its own.
  // Only the database's owner (or a superuser) can do this; for anyone else PostgreSQL only
  // warns, and checkCreatesNothing then says what is missing.
  await sql.withholdTemporaryTables(client, { database, owner });
  await checkCreatesNothing(client, role, database);
  return {
    created: !found,
    database,
    views: await sql.readReadableViews(client, role),
    functions: await sql.readCallableFunctions(client, role),
  };
}

/**
 * An existing plain login may become the reader only if it holds no privilege outside the
 * reporting schema (its grants would survive, and "nothing else" would be false), unless
 * `--replace` asks to revoke them: DROP OWNED BY revokes every privilege the role holds in
 * this database and on shared objects (the role owns nothing: checked before). Privileges
 * in other databases cannot be revoked from here.
 */
async function takeOver(client: Session, wanted: Grant): Promise<void> {
  const rows = await sql.readPrivilegesOutsideReporting(client, wanted.role);
  if (rows.length === 0) return;
  const listed = rows.map((row) => row.what).join(", ");
  if (!wanted.replace || rows.some((row) => !row.here)) {
    throw new ConfigError(
      `role ${wanted.role} already exists and holds privileges outside the reporting schema (${listed}). ` +
        (rows.some((row) => !row.here)
          ? "Revoke those in other databases there first, or choose another name."
          : "Choose another name, or give --replace to revoke them and make it a reporting-only role."),
    );
  }
  await sql.dropOwnedBy(client, wanted.role);
}

/** Refuses (rolling everything back) if the role could still create anything, naming what. */
async function checkCreatesNothing(client: Session, role: string, database: string): Promise<void> {
  const rows = await sql.readCreatePrivileges(client, role);
  if (rows.length === 0) return;
  const quoted = pg.escapeIdentifier(database);
  throw new SyncError(
    `role ${role} could still create objects (${rows.join("; ")}), ` +
      "granted to PUBLIC, which only the owner of the database or schema (or a superuser) can revoke. " +
      `Run bi-access as the database's owner or a superuser, or have one run for example ` +
      `\`REVOKE TEMPORARY ON DATABASE ${quoted} FROM PUBLIC\` or \`REVOKE CREATE ON SCHEMA public FROM PUBLIC\`, ` +
      "granting them by name to the roles that need them (the role that syncs needs TEMPORARY).",
  );
}

/** PostgreSQL's "permission denied" says what, not who may: add what this needs. */
function explainPermission(error: unknown): unknown {
  if ((error as { code?: string } | null)?.code !== "42501") return error;
  return new Error(
    `${(error as Error).message}. bi-access must run as a user with CREATEROLE that owns the ` +
      "reporting schema (the user that migrates), or as a superuser.",
    { cause: error },
  );
}
