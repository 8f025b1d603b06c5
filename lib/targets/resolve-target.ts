import path from "node:path";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { targets, type Target } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { InvalidInputError, LifeboatError, UntrustedDataError } from "@/lib/engine/errors";
import type { PgConnection } from "@/lib/engine/pg/connection";
import { ManagedCluster, parseControl, type ClusterControl } from "@/lib/engine/cluster/managed-cluster";
import { isTargetName, TARGET_NAME_RULE } from "@/lib/engine/repository/artifact-kinds";
import type { Repository } from "@/lib/engine/repository/repository";
import { defaultTargetConnection, upsertDefaultTarget } from "./default-target";
import { repositoryFor } from "./offsite";
import { hasHostFields, hostFieldsSealed, resolveTargetPassword } from "./target-secrets";

/** A target as every caller (CLI, worker, pages) uses it: connection, repository, and what this host manages of it. */
export type ResolvedTarget = {
  /** The catalog row's id; null when the metadata database is down. */
  id: number | null;
  name: string;
  isDefault: boolean;
  connection: PgConnection;
  /** Data directory on this host (a managed cluster): enables in-place PITR. */
  dataDir: string | null;
  configDir: string | null;
  /** How the cluster is stopped and started on this host (with dataDir). */
  control: ClusterControl;
  /** The OS user the server runs as. */
  osUser: string;
  prismaSchemaPath: string | null;
  repository: Repository;
};

export class TargetNotFoundError extends LifeboatError {
  constructor(name: string, known: string[]) {
    super("TARGET_NOT_FOUND", `There is no target named ${JSON.stringify(name)}${known.length ? ` (known: ${known.join(", ")})` : ""}.`);
  }
}

/**
 * Find a target by name (the default one, from the seed's DB_* variables, when no name is given).
 * The default target works without the metadata database; every other target lives in it.
 * Rows are untrusted: names are checked, and passwords come only from allowed references.
 */
export async function resolveTarget(options: { env: TEnv; db?: Db | undefined; name?: string | undefined }): Promise<ResolvedTarget> {
  const { env, db } = options;
  const name = options.name ?? env.DB_TARGET_NAME;
  if (!isTargetName(name)) throw new InvalidInputError(`${JSON.stringify(name)} is not a target name (${TARGET_NAME_RULE}).`);
  const repository = await repositoryFor(env, name);
  if (name === env.DB_TARGET_NAME) {
    const row = db ? await upsertDefaultTarget(db, env) : undefined;
    return {
      id: row?.id ?? null,
      name,
      isDefault: true,
      connection: defaultTargetConnection(env),
      dataDir: env.DB_DATA_DIR ? path.resolve(env.DB_DATA_DIR) : null,
      configDir: env.DB_CONFIG_DIR ? path.resolve(env.DB_CONFIG_DIR) : null,
      control: parseControl(env.DB_CONTROL, { start: env.DB_START_COMMAND, stop: env.DB_STOP_COMMAND }),
      osUser: env.DB_OS_USER,
      prismaSchemaPath: env.DB_PRISMA_SCHEMA ? path.resolve(env.DB_PRISMA_SCHEMA) : null,
      repository,
    };
  }
  if (!db) throw new LifeboatError("METADATA_UNAVAILABLE", `Target ${name} is known only to the metadata database, which is unreachable.`);
  const [row] = await db.select().from(targets).where(eq(targets.name, name)).limit(1);
  if (!row)
    throw new TargetNotFoundError(
      name,
      (await db.select({ name: targets.name }).from(targets)).map((t) => t.name),
    );
  return fromRow(row, env, repository);
}

function fromRow(row: Target, env: TEnv, repository: Repository): ResolvedTarget {
  if (!isTargetName(row.name)) throw new UntrustedDataError(`A target row has an invalid name ${JSON.stringify(row.name)}; refusing it.`);
  // Data directory, control commands and OS user decide what Lifeboat runs and deletes on this host:
  // only rows sealed by `npm run target -- add` (with LIFEBOAT_SECRETS_KEY) may carry them.
  const host = { name: row.name, dataDir: row.dataDir, configDir: row.configDir, control: row.control, osUser: row.osUser };
  if (hasHostFields(host) && !hostFieldsSealed(host, row.hostSeal, env.LIFEBOAT_SECRETS_KEY)) {
    throw new UntrustedDataError(
      `Target ${row.name}'s cluster settings (data directory, control, OS user) were changed outside Lifeboat (their seal does not match); refusing the target. Set them again with npm run target -- add.`,
    );
  }
  const password = resolveTargetPassword(
    row.passwordRef,
    { name: row.name, host: row.host, port: row.port, user: row.username, isDefault: false },
    env.LIFEBOAT_SECRETS_KEY,
  );
  for (const [label, dir] of [
    ["data directory", row.dataDir],
    ["configuration directory", row.configDir],
    ["schema.prisma", row.prismaSchemaPath],
  ] as const) {
    if (dir !== null && (!path.isAbsolute(dir) || dir.includes("\0")))
      throw new UntrustedDataError(`Target ${row.name} has a ${label} that is not an absolute path.`);
  }
  return {
    id: row.id,
    name: row.name,
    isDefault: false,
    connection: { host: row.host, port: row.port, database: row.database, user: row.username, password },
    dataDir: row.dataDir,
    configDir: row.configDir,
    control: controlFromRow(row),
    osUser: row.osUser ?? "postgres",
    prismaSchemaPath: row.prismaSchemaPath,
    repository,
  };
}

/** A row's control, checked like any untrusted input. */
function controlFromRow(row: Target): ClusterControl {
  const value = row.control as { method?: unknown; version?: unknown; cluster?: unknown; unit?: unknown; start?: unknown; stop?: unknown } | null;
  if (!value) return { method: "pg_ctl" };
  const argv = (v: unknown) => (Array.isArray(v) && v.every((a) => typeof a === "string") ? (v as string[]) : undefined);
  try {
    if (value.method === "pg_ctlcluster") return parseControl(`pg_ctlcluster:${String(value.version)}/${String(value.cluster)}`);
    if (value.method === "systemd") return parseControl(`systemd:${String(value.unit)}`);
    if (value.method === "command") return parseControl("command", { start: argv(value.start), stop: argv(value.stop) });
    return parseControl(String(value.method));
  } catch (error) {
    throw new UntrustedDataError(`Target ${row.name} has an invalid cluster control: ${(error as Error).message}`);
  }
}

/** The cluster of a target on this host, for an in-place PITR (null when the target declares no data directory). */
export function managedClusterOf(target: ResolvedTarget, pgBinDir: string | undefined): ManagedCluster | null {
  if (!target.dataDir) return null;
  return new ManagedCluster({ dataDir: target.dataDir, configDir: target.configDir, control: target.control, osUser: target.osUser, pgBinDir });
}

/** Every target in the catalog (the overview lists them), without resolving secrets. */
export async function listTargets(db: Db): Promise<Target[]> {
  return db.select().from(targets).orderBy(targets.name);
}
