import path from "node:path";
import type { Db } from "@/lib/db/client";
import { targets, type Target } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import type { PgConnection } from "@/lib/engine/pg/connection";

/** The default target as the seed's `.env` describes it (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD). */
export function defaultTargetConnection(env: TEnv): PgConnection {
  return { host: env.DB_HOST, port: env.DB_PORT, database: env.DB_NAME, user: env.DB_USER, password: env.DB_PASSWORD };
}

/** Register (or update) the default target in the catalog; its password stays in the environment. */
export async function upsertDefaultTarget(db: Db, env: TEnv): Promise<Target> {
  const values = {
    name: env.DB_TARGET_NAME,
    host: env.DB_HOST,
    port: env.DB_PORT,
    database: env.DB_NAME,
    username: env.DB_USER,
    passwordRef: env.DB_PASSWORD === undefined ? null : "env:DB_PASSWORD",
    dataDir: env.DB_DATA_DIR ? path.resolve(env.DB_DATA_DIR) : null,
    configDir: env.DB_CONFIG_DIR ? path.resolve(env.DB_CONFIG_DIR) : null,
    osUser: env.DB_OS_USER,
    prismaSchemaPath: env.DB_PRISMA_SCHEMA ? path.resolve(env.DB_PRISMA_SCHEMA) : null,
    updatedAt: new Date(),
  };
  const [row] = await db.insert(targets).values(values).onConflictDoUpdate({ target: targets.name, set: values }).returning();
  if (!row) throw new Error("could not register the default target");
  return row;
}
