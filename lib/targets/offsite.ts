import path from "node:path";
import type { TEnv } from "@/lib/env";
import { parseRecipients, readIdentityFile } from "@/lib/engine/crypto/age";
import { ObjectStore, readCredentialsFile, type ObjectStoreConfig } from "@/lib/engine/offsite/object-store";
import { MirroredRepository, OffsiteRepository, type OffsiteEncryption } from "@/lib/engine/offsite/offsite-repository";
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
  return new MirroredRepository(env.BACKUP_DIR, name, new OffsiteRepository(store, name, offsiteEncryption(env)), mode === "both");
}

/**
 * An encrypted repository (LIFEBOAT_ENCRYPT_BACKUPS) or an encrypted off-site copy alone
 * (LIFEBOAT_S3_ENCRYPT): the bucket never receives plaintext. Without recipients every upload
 * fails with a sentence naming LIFEBOAT_AGE_RECIPIENTS, and the local copies stay.
 */
function offsiteEncryption(env: TEnv): OffsiteEncryption | undefined {
  if (!env.LIFEBOAT_S3_ENCRYPT && !env.LIFEBOAT_ENCRYPT_BACKUPS) return undefined;
  return {
    recipients: parseRecipients(env.LIFEBOAT_AGE_RECIPIENTS),
    identities: async () => (env.LIFEBOAT_AGE_IDENTITY_FILE ? readIdentityFile(path.resolve(env.LIFEBOAT_AGE_IDENTITY_FILE)) : []),
  };
}
