import path from "node:path";
import type { TEnv } from "@/lib/env";
import type { BackupSettings } from "@/lib/engine/backup/types";
import { parseRecipients, readIdentityFile } from "@/lib/engine/crypto/age";

/** The engine's backup settings from the configuration (the only place env turns into engine options). */
export function backupSettings(env: TEnv): BackupSettings {
  return {
    pgBinDir: env.PG_BIN_DIR,
    compressionLevel: env.LIFEBOAT_DUMP_COMPRESSION,
    dumpCompression: env.LIFEBOAT_DUMP_COMPRESSOR,
    dumpJobs: env.LIFEBOAT_DUMP_JOBS,
    baseCompression: env.LIFEBOAT_BASE_COMPRESSION,
    recipients: parseRecipients(env.LIFEBOAT_AGE_RECIPIENTS),
    encryptAll: env.LIFEBOAT_ENCRYPT_BACKUPS,
    environment: {
      files: env.LIFEBOAT_ENV_FILES.split(",")
        .map((f) => f.trim())
        .filter(Boolean),
      baseDir: process.cwd(),
      rolePasswords: env.LIFEBOAT_ENV_ROLE_PASSWORDS,
    },
    lockTimeoutSeconds: env.LIFEBOAT_LOCK_TIMEOUT,
  };
}

/** The age identities that decrypt backups, for restores (none configured: an empty list). */
export async function identities(env: TEnv): Promise<string[]> {
  return env.LIFEBOAT_AGE_IDENTITY_FILE ? readIdentityFile(path.resolve(env.LIFEBOAT_AGE_IDENTITY_FILE)) : [];
}
