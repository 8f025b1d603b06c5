import os from "node:os";
import path from "node:path";
import { appendAudit, type AuditEntry } from "@/lib/audit/append-audit";
import { createDb, type DbHandle } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import type { Target } from "@/lib/db/schema";
import { getEnv, readSecretRef, type TEnv } from "@/lib/env";
import { parseRecipients, readIdentityFile } from "@/lib/engine/crypto/age";
import { BackupLog } from "@/lib/engine/log/backup-log";
import type { PgConnection } from "@/lib/engine/pg/connection";
import { defaultTargetConnection, findTargetByName, upsertDefaultTarget } from "@/lib/targets/default-target";

export type CliTarget = { name: string; connection: PgConnection; prismaSchemaPath: string | null; row: Target | undefined };

export type CliContext = {
  env: TEnv;
  /** The metadata database, when reachable: a restore must work while it is down. */
  meta: DbHandle | undefined;
  target: CliTarget;
  targetDir: string;
  log: BackupLog;
  actor: string;
  audit: (entry: Omit<AuditEntry, "actorEmail">) => Promise<void>;
  close: () => Promise<void>;
};

export function warn(message: string): void {
  process.stderr.write(`lifeboat: ${message}\n`);
}

export async function loadCliContext(options: { target?: string | undefined; requireCatalog?: boolean }): Promise<CliContext> {
  const env = getEnv();
  let meta: DbHandle | undefined = createDb(env.DATABASE_URL, { max: 2 });
  try {
    await migrateDatabase(meta);
  } catch (error) {
    await meta.close().catch(() => {});
    meta = undefined;
    const message = `the metadata database is unreachable (${(error as Error).message})`;
    if (options.requireCatalog) throw new Error(message, { cause: error });
    warn(`${message}; working from the repository alone, run records and the catalog are not updated (npm run backup:list -- --rescan later).`);
  }

  const name = options.target ?? env.DB_TARGET_NAME;
  let target: CliTarget;
  if (name === env.DB_TARGET_NAME) {
    const row = meta ? await upsertDefaultTarget(meta.db, env) : undefined;
    target = { name, connection: defaultTargetConnection(env), prismaSchemaPath: env.DB_PRISMA_SCHEMA ?? null, row };
  } else {
    if (!meta) throw new Error(`target ${name} is only known to the metadata database, which is unreachable`);
    const row = await findTargetByName(meta.db, name);
    if (!row) throw new Error(`there is no target named ${JSON.stringify(name)} (the default is ${env.DB_TARGET_NAME})`);
    target = {
      name,
      connection: { host: row.host, port: row.port, database: row.database, user: row.username, password: readSecretRef(row.passwordRef) },
      prismaSchemaPath: row.prismaSchemaPath,
      row,
    };
  }

  const actor = `cli:${os.userInfo().username}`;
  const handle = meta;
  return {
    env,
    meta,
    target,
    targetDir: path.join(path.resolve(env.BACKUP_DIR), target.name),
    log: new BackupLog(path.resolve(env.LOG_DIR), [target.connection.password, env.DB_PASSWORD]),
    actor,
    audit: async (entry) => {
      if (handle)
        await appendAudit(handle.db, { ...entry, actorEmail: actor }).catch((e: unknown) => warn(`could not write the audit log: ${(e as Error).message}`));
    },
    close: async () => {
      await handle?.close();
    },
  };
}

export function recipientsFrom(env: TEnv): string[] {
  return parseRecipients(env.LIFEBOAT_AGE_RECIPIENTS);
}

export async function identitiesFrom(env: TEnv): Promise<string[]> {
  return env.LIFEBOAT_AGE_IDENTITY_FILE ? readIdentityFile(path.resolve(env.LIFEBOAT_AGE_IDENTITY_FILE)) : [];
}

/** Run a CLI main: one clear line on failure, exit code 1 (2 for usage errors). */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      warn(`ERROR: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
