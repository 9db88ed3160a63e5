// The statements of `bi-access` (src/reporting/access.ts decides what a reporting reader may
// do and when an existing role may become one). Role and database names are identifiers,
// which cannot be parameters: they are quoted here with pg.escapeIdentifier; role
// settings take no parameters either, and get integers of ours.
import pg from "pg";
import type { Queryable } from "../db.ts";

const quote = pg.escapeIdentifier;

export interface ReportingSchema {
  /** The reporting schema's owner; null before the migration that creates it. */
  owner: string | null;
  database: string;
}

export async function readReportingSchema(db: Queryable): Promise<ReportingSchema> {
  const { rows } = await db.query<ReportingSchema>(
    `SELECT (SELECT r.rolname::text FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
             WHERE n.nspname = 'reporting') AS owner,
            current_database() AS database`,
  );
  return rows[0] ?? { owner: null, database: "" };
}

export interface ExistingRole {
  superuser: boolean;
  privileged: boolean;
  member_of: string[];
  owns_objects: boolean;
  is_current_user: boolean;
}

/** What makes `role` more than a login; undefined when there is no such role. */
export async function readExistingRole(
  db: Queryable,
  role: string,
): Promise<ExistingRole | undefined> {
  const { rows } = await db.query<ExistingRole>(
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
  return rows[0];
}

/** A privilege `role` holds beyond what bi-access grants; `here` when in this database or shared. */
export interface ForeignPrivilege {
  what: string;
  here: boolean;
}

export async function readPrivilegesOutsideReporting(
  db: Queryable,
  role: string,
): Promise<ForeignPrivilege[]> {
  const { rows } = await db.query<ForeignPrivilege>(
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
    [role],
  );
  return rows;
}

/** Revokes every privilege `role` holds in this database and on shared objects. */
export async function dropOwnedBy(db: Queryable, role: string): Promise<void> {
  await db.query(`DROP OWNED BY ${quote(role)}`);
}

/**
 * Creates `role` (or alters it when `exists`) as a plain login with the given SCRAM
 * verifier: never the password itself, which a server log could record.
 */
export async function setLoginRole(
  db: Queryable,
  login: { role: string; exists: boolean; connectionLimit: number; verifier: string },
): Promise<void> {
  const attributes =
    `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ` +
    `CONNECTION LIMIT ${Math.trunc(login.connectionLimit)} ` +
    `PASSWORD ${pg.escapeLiteral(login.verifier)}`;
  await db.query(
    `${login.exists ? "ALTER" : "CREATE"} ROLE ${quote(login.role)} WITH ${attributes}`,
  );
}

/** Read-only transactions by default, and the role's timeouts (SET takes no parameters). */
export async function setRoleDefaults(
  db: Queryable,
  role: string,
  limits: { statementTimeoutMs: number; idleInTransactionTimeoutMs: number },
): Promise<void> {
  const name = quote(role);
  await db.query(`ALTER ROLE ${name} SET default_transaction_read_only = on`);
  await db.query(
    `ALTER ROLE ${name} SET statement_timeout = ${Math.trunc(limits.statementTimeoutMs)}`,
  );
  await db.query(
    `ALTER ROLE ${name} SET idle_in_transaction_session_timeout = ${Math.trunc(limits.idleInTransactionTimeoutMs)}`,
  );
}

/**
 * CONNECT on the database and the reporting schema's views and functions, every other
 * privilege in public, reporting_internal and reporting revoked. Explicit grants only: what
 * PUBLIC holds cannot be revoked from one role, and holds no table privilege (and, since
 * PostgreSQL 15, no CREATE on schema public).
 */
export async function grantReportingOnly(
  db: Queryable,
  role: string,
  database: string,
): Promise<void> {
  const name = quote(role);
  await db.query(`GRANT CONNECT ON DATABASE ${quote(database)} TO ${name}`);
  await db.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${name}`);
  await db.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${name}`);
  await db.query(`REVOKE ALL ON SCHEMA public, reporting_internal FROM ${name}`);
  await db.query(`REVOKE ALL ON ALL TABLES IN SCHEMA reporting_internal FROM ${name}`);
  await db.query(`REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM ${name}`);
  await db.query(`GRANT USAGE ON SCHEMA reporting TO ${name}`);
  await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ${name}`);
  // The point-in-time functions: PUBLIC may not execute them (their migration revokes it).
  await db.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO ${name}`);
}

/**
 * Views and functions a later migration adds are created by the schema's owner: `role` may
 * use them at once.
 */
export async function grantFutureReporting(
  db: Queryable,
  grant: { owner: string; role: string },
): Promise<void> {
  const owner = quote(grant.owner);
  const name = quote(grant.role);
  await db.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA reporting GRANT SELECT ON TABLES TO ${name}`,
  );
  await db.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA reporting GRANT EXECUTE ON FUNCTIONS TO ${name}`,
  );
}

/** TEMPORARY on the database revoked from PUBLIC and given back by name to `owner`. */
export async function withholdTemporaryTables(
  db: Queryable,
  grant: { database: string; owner: string },
): Promise<void> {
  const database = quote(grant.database);
  await db.query(`REVOKE TEMPORARY ON DATABASE ${database} FROM PUBLIC`);
  await db.query(`GRANT TEMPORARY ON DATABASE ${database} TO ${quote(grant.owner)}`);
}

/** What `role` could still create in this database, e.g. "CREATE on schema public". */
export async function readCreatePrivileges(db: Queryable, role: string): Promise<string[]> {
  const { rows } = await db.query<{ can: string }>(
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
  return rows.map((row) => row.can);
}

/** The reporting views `role` may read. */
export async function readReadableViews(db: Queryable, role: string): Promise<string[]> {
  const { rows } = await db.query<{ view: string }>(
    `SELECT c.relname::text AS view FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'reporting' AND has_table_privilege($1, c.oid, 'SELECT') ORDER BY 1`,
    [role],
  );
  return rows.map((row) => row.view);
}

/** The reporting functions `role` may call. */
export async function readCallableFunctions(db: Queryable, role: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT DISTINCT p.proname::text AS name FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'reporting' AND has_function_privilege($1, p.oid, 'EXECUTE') ORDER BY 1`,
    [role],
  );
  return rows.map((row) => row.name);
}
