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

interface ExistingRole {
  superuser: boolean;
  privileged: boolean;
  member_of: string[];
  owns_objects: boolean;
  is_current_user: boolean;
}

/** What makes an existing role more than a reporting reader; empty when it is safe to take over. */
function reasonsNotToTouch(role: ExistingRole): string[] {
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
  const name = pg.escapeIdentifier(checkRoleName(role));
  const limits = { ...ROLE_LIMITS, ...options.limits };
  try {
    return await inTransaction(db, (client) =>
      grant(client, { role, name, password, limits, replace: options.replace === true }),
    );
  } catch (error) {
    throw explainPermission(error);
  }
}

interface Grant {
  role: string;
  /** The role's name as an identifier. */
  name: string;
  password: string;
  limits: RoleLimits;
  replace: boolean;
}

async function grant(client: Session, wanted: Grant): Promise<AccessResult> {
  const { role, name, password, limits } = wanted;
  const { rows: schema } = await client.query<{ owner: string | null; database: string }>(
    `SELECT (SELECT r.rolname::text FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
             WHERE n.nspname = 'reporting') AS owner,
            current_database() AS database`,
  );
  const owner = schema[0]?.owner;
  const database = schema[0]?.database ?? "";
  if (!owner) {
    throw new NotMigratedError();
  }
  const { rows: existing } = await client.query<ExistingRole>(
    `SELECT r.rolsuper AS superuser,
            r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls AS privileged,
            array(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid ORDER BY 1) AS member_of,
            EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.refobjid = r.oid AND d.deptype = 'o')
              AS owns_objects,
            r.rolname = current_user AS is_current_user
     FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  const found = existing[0];
  if (found) {
    const reasons = reasonsNotToTouch(found);
    if (reasons.length > 0) {
      throw new ConfigError(
        `role ${role} already exists and is not a reporting-only role (${reasons.join("; ")}); choose another name.`,
      );
    }
  }
  if (found) await takeOver(client, wanted);
  const attributes =
    `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ` +
    `CONNECTION LIMIT ${Math.trunc(limits.connectionLimit)} ` +
    `PASSWORD ${pg.escapeLiteral(scramVerifier(password))}`;
  await client.query(`${found ? "ALTER" : "CREATE"} ROLE ${name} WITH ${attributes}`);
  await client.query(`ALTER ROLE ${name} SET default_transaction_read_only = on`);
  // SET takes no parameters: the values are integers of ours.
  await client.query(
    `ALTER ROLE ${name} SET statement_timeout = ${Math.trunc(limits.statementTimeoutMs)}`,
  );
  await client.query(
    `ALTER ROLE ${name} SET idle_in_transaction_session_timeout = ${Math.trunc(limits.idleInTransactionTimeoutMs)}`,
  );
  // Explicit grants only: what PUBLIC holds cannot be revoked from one role, and holds
  // no table privilege (and, since PostgreSQL 15, no CREATE on schema public).
  await client.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${name}`);
  await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${name}`);
  await client.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${name}`);
  await client.query(`REVOKE ALL ON SCHEMA public, reporting_internal FROM ${name}`);
  await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA reporting_internal FROM ${name}`);
  await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM ${name}`);
  await client.query(`GRANT USAGE ON SCHEMA reporting TO ${name}`);
  await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ${name}`);
  // The point-in-time functions: PUBLIC may not execute them (their migration revokes it).
  await client.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO ${name}`);
  // Views and functions a later migration adds are created by the schema's owner: usable at once.
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${pg.escapeIdentifier(owner)} IN SCHEMA reporting GRANT SELECT ON TABLES TO ${name}`,
  );
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${pg.escapeIdentifier(owner)} IN SCHEMA reporting GRANT EXECUTE ON FUNCTIONS TO ${name}`,
  );
  await withholdTemporaryTables(client, database, owner);
  await checkCreatesNothing(client, role, database);
  const { rows: views } = await client.query<{ view: string }>(
    `SELECT c.relname::text AS view FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'reporting' AND has_table_privilege($1, c.oid, 'SELECT') ORDER BY 1`,
    [role],
  );
  const { rows: functions } = await client.query<{ name: string }>(
    `SELECT DISTINCT p.proname::text AS name FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'reporting' AND has_function_privilege($1, p.oid, 'EXECUTE') ORDER BY 1`,
    [role],
  );
  return {
    created: !found,
    database,
    views: views.map((row) => row.view),
    functions: functions.map((row) => row.name),
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
  const { rows } = await client.query<{ what: string; here: boolean }>(
    `SELECT CASE WHEN d.dbid = 0 OR d.dbid = db.oid
                 THEN pg_describe_object(d.classid, d.objid, d.objsubid)
                 ELSE 'objects in database ' || quote_ident(o.datname) END AS what,
            d.dbid = 0 OR d.dbid = db.oid AS here
     FROM pg_shdepend d
     JOIN pg_roles r ON r.oid = d.refobjid AND r.rolname = $1
     CROSS JOIN (SELECT oid FROM pg_database WHERE datname = current_database()) db
     LEFT JOIN pg_database o ON o.oid = d.dbid
     WHERE d.deptype IN ('a', 'i')
       -- What bi-access itself grants: CONNECT here, and the reporting schema's objects.
       AND NOT (d.classid = 'pg_database'::regclass AND d.objid = db.oid)
       AND NOT (d.dbid = db.oid AND (
             (d.classid = 'pg_namespace'::regclass
                AND d.objid = 'reporting'::regnamespace::oid)
          OR (d.classid = 'pg_class'::regclass AND EXISTS (
                SELECT 1 FROM pg_class c WHERE c.oid = d.objid
                  AND c.relnamespace = 'reporting'::regnamespace))
          OR (d.classid = 'pg_proc'::regclass AND EXISTS (
                SELECT 1 FROM pg_proc p WHERE p.oid = d.objid
                  AND p.pronamespace = 'reporting'::regnamespace))
          OR (d.classid = 'pg_default_acl'::regclass AND EXISTS (
                SELECT 1 FROM pg_default_acl a WHERE a.oid = d.objid
                  AND a.defaclnamespace = 'reporting'::regnamespace))))
     GROUP BY 1, 2 ORDER BY 1`,
    [wanted.role],
  );
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
  await client.query(`DROP OWNED BY ${wanted.name}`);
}

/**
 * Every role may create temporary tables by default, through PUBLIC, and a grant to PUBLIC
 * cannot be revoked from one role: it is revoked from PUBLIC, and given back by name to the
 * owner of elements-sync's schema, whose merge uses a temporary table. The database's owner
 * keeps it too; any other role that needs temporary tables here needs a GRANT of its own.
 * Only the database's owner (or a superuser) can do this; for anyone else PostgreSQL only
 * warns, and checkCreatesNothing then says what is missing.
 */
async function withholdTemporaryTables(
  client: Session,
  database: string,
  owner: string,
): Promise<void> {
  const quoted = pg.escapeIdentifier(database);
  await client.query(`REVOKE TEMPORARY ON DATABASE ${quoted} FROM PUBLIC`);
  await client.query(`GRANT TEMPORARY ON DATABASE ${quoted} TO ${pg.escapeIdentifier(owner)}`);
}

/** Refuses (rolling everything back) if the role could still create anything, naming what. */
async function checkCreatesNothing(client: Session, role: string, database: string): Promise<void> {
  const { rows } = await client.query<{ can: string }>(
    `SELECT 'TEMPORARY on database ' || quote_ident(current_database()) AS can
     WHERE has_database_privilege($1, current_database(), 'TEMPORARY')
     UNION ALL
     SELECT 'CREATE on database ' || quote_ident(current_database())
     WHERE has_database_privilege($1, current_database(), 'CREATE')
     UNION ALL
     SELECT 'CREATE on schema ' || quote_ident(nspname) FROM pg_namespace
     WHERE has_schema_privilege($1, oid, 'CREATE')
       AND nspname !~ '^pg_(toast_)?temp_' AND nspname <> 'pg_toast'
     ORDER BY 1`,
    [role],
  );
  if (rows.length === 0) return;
  const quoted = pg.escapeIdentifier(database);
  throw new SyncError(
    `role ${role} could still create objects (${rows.map((row) => row.can).join("; ")}), ` +
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
