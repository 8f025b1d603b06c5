import type { TEnv } from "@/lib/env";
import { ObjectStore, readCredentialsFile, type ObjectStoreConfig } from "@/lib/engine/offsite/object-store";
import { MirroredRepository, OffsiteRepository } from "@/lib/engine/offsite/offsite-repository";
import { LocalRepository, type Repository } from "@/lib/engine/repository/repository";

export type RepositoriesMode = "local" | "offsite" | "both";

/** Local only unless a bucket is configured; with one, both (3-2-1) unless LIFEBOAT_REPOSITORIES says offsite. */
export function repositoriesMode(env: TEnv): RepositoriesMode {
  if (!env.LIFEBOAT_S3_BUCKET) return "local";
  return env.LIFEBOAT_REPOSITORIES === "local" ? "local" : (env.LIFEBOAT_REPOSITORIES ?? "both");
}

const stores = new Map<string, ObjectStore>();

/** The configured object storage (one client per process and configuration), or undefined. */
export async function objectStoreFromEnv(env: TEnv): Promise<ObjectStore | undefined> {
  if (!env.LIFEBOAT_S3_BUCKET) return undefined;
  const credentials = env.LIFEBOAT_S3_CREDENTIALS_FILE
    ? await readCredentialsFile(env.LIFEBOAT_S3_CREDENTIALS_FILE)
    : env.LIFEBOAT_S3_ACCESS_KEY_ID && env.LIFEBOAT_S3_SECRET_ACCESS_KEY
      ? { accessKeyId: env.LIFEBOAT_S3_ACCESS_KEY_ID, secretAccessKey: env.LIFEBOAT_S3_SECRET_ACCESS_KEY }
      : undefined;
  const config: ObjectStoreConfig = {
    endpoint: env.LIFEBOAT_S3_ENDPOINT,
    region: env.LIFEBOAT_S3_REGION,
    bucket: env.LIFEBOAT_S3_BUCKET,
    prefix: env.LIFEBOAT_S3_PREFIX,
    forcePathStyle: env.LIFEBOAT_S3_FORCE_PATH_STYLE ?? env.LIFEBOAT_S3_ENDPOINT !== undefined,
    credentials,
  };
  const key = JSON.stringify(config);
  let store = stores.get(key);
  if (!store) stores.set(key, (store = new ObjectStore(config)));
  return store;
}

/** A target's repository as configured: the local folder, alone or mirrored to the bucket. */
export async function repositoryFor(env: TEnv, name: string): Promise<Repository> {
  const mode = repositoriesMode(env);
  const store = mode === "local" ? undefined : await objectStoreFromEnv(env);
  if (!store) return new LocalRepository(env.BACKUP_DIR, name);
  return new MirroredRepository(env.BACKUP_DIR, name, new OffsiteRepository(store, name), mode === "both");
}
