import { z } from "zod";
import { LifeboatError } from "@/lib/engine/errors";

/**
 * The one typed view of Lifeboat's configuration, and the only module that reads `process.env`.
 * Every entry point (web app, CLI, scripts) calls `getEnv()`; a missing or malformed value stops
 * start-up with one line that names the variable. Secrets (DB_PASSWORD, AUTH_SECRET, the password
 * inside DATABASE_URL) are held here and handed to the engine as values, never logged.
 */

const port = z.coerce
  .number({ error: "must be a port number" })
  .int("must be a whole number")
  .min(1, "must be between 1 and 65535")
  .max(65535, "must be between 1 and 65535");

const postgresUrl = z
  .string({ error: "is required (e.g. postgres://user:password@127.0.0.1:5432/lifeboat)" })
  .min(1, "is required (e.g. postgres://user:password@127.0.0.1:5432/lifeboat)")
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === "postgres:" || url.protocol === "postgresql:";
    } catch {
      return false;
    }
  }, "must be a postgres:// URL");

const emptyToUndefined = (value: unknown) => (value === "" ? undefined : value);

/** A command as a JSON array of arguments (["systemctl", "start", "pg"]): run without a shell. */
const jsonArgv = z.string().transform((text, ctx) => {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) return value as string[];
  } catch {
    // reported below
  }
  ctx.addIssue({ code: "custom", message: 'must be a JSON array of arguments, e.g. ["systemctl","start","postgresql"]' });
  return z.NEVER;
});

const booleanFlag = z
  .union([z.boolean(), z.enum(["1", "0", "true", "false", "yes", "no", "on", "off"])], { error: "must be true or false" })
  .transform((value) => value === true || ["1", "true", "yes", "on"].includes(String(value)));

/** A number of minutes, 1 minute to 30 days. */
const minutes = (fallback: number) =>
  z.coerce.number({ error: "must be a number of minutes" }).min(1, "must be 1 to 43200 minutes").max(43_200, "must be 1 to 43200 minutes").default(fallback);

export const ZEnv = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** Lifeboat's own metadata database. Never a cluster Lifeboat may restore in place. */
  DATABASE_URL: postgresUrl,
  /** The default target, named after the seed's `.env`. */
  DB_HOST: z.string().min(1, "must not be empty").default("localhost"),
  DB_PORT: port.default(15432),
  DB_NAME: z.string().min(1, "must not be empty").default("allertify"),
  DB_USER: z.string().min(1, "must not be empty").default("allertify"),
  DB_PASSWORD: z.preprocess(emptyToUndefined, z.string().optional()),
  /** Name the default target is listed under in the repository (backups/<name>/). */
  DB_TARGET_NAME: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be lowercase letters, digits, '-' or '_' (max 63)")
    .default("default"),
  /** Data directory of the default target when this host manages that cluster (enables PITR). */
  DB_DATA_DIR: z.preprocess(emptyToUndefined, z.string().optional()),
  /** The default target's configuration directory when outside its data directory (Debian: /etc/postgresql/15/main). */
  DB_CONFIG_DIR: z.preprocess(emptyToUndefined, z.string().optional()),
  /**
   * How the default target's cluster is stopped and started for an in-place PITR: pg_ctl (as
   * DB_OS_USER), pg_ctlcluster:<version>/<name>, systemd:<unit>, or command (DB_START_COMMAND and
   * DB_STOP_COMMAND, JSON arrays of arguments: never a shell).
   */
  DB_CONTROL: z.string().default("pg_ctl"),
  DB_START_COMMAND: z.preprocess(emptyToUndefined, jsonArgv.optional()),
  DB_STOP_COMMAND: z.preprocess(emptyToUndefined, jsonArgv.optional()),
  /** The OS user the default target's server runs as (it owns the data directory). */
  DB_OS_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/i, "must be an OS user name")
    .default("postgres"),
  /** The default target app's schema.prisma: JSON exports are named after its models. */
  DB_PRISMA_SCHEMA: z.preprocess(emptyToUndefined, z.string().optional()),
  BACKUP_DIR: z.string().min(1, "must not be empty").default("./backups"),
  LOG_DIR: z.string().min(1, "must not be empty").default("./logs"),
  PG_BIN_DIR: z.preprocess(emptyToUndefined, z.string().optional()),
  AUTH_SECRET: z.preprocess(emptyToUndefined, z.string().min(32, "must be at least 32 characters (generate one with: openssl rand -base64 32)").optional()),
  NEXTAUTH_URL: z.preprocess(emptyToUndefined, z.url("must be a URL such as http://localhost:3000").optional()),
  /** age recipients (age1…, comma or space separated) that backups are encrypted to. */
  LIFEBOAT_AGE_RECIPIENTS: z.preprocess(emptyToUndefined, z.string().optional()),
  /** age identity file (AGE-SECRET-KEY-1…) that decrypts them, for restores. */
  LIFEBOAT_AGE_IDENTITY_FILE: z.preprocess(emptyToUndefined, z.string().optional()),
  /** Encrypt every artifact, not only environment backups (which are always encrypted). */
  LIFEBOAT_ENCRYPT_BACKUPS: z.preprocess(emptyToUndefined, booleanFlag.default(false)),
  /** pg_dump compression level for custom-format dumps, 0 (none) to 9; gzip inside pg_dump. */
  LIFEBOAT_DUMP_COMPRESSION: z.coerce.number().int().min(0, "must be 0 to 9").max(9, "must be 0 to 9").default(6),
  /**
   * How a full dump is compressed: zstd (the default: pg_dump's custom format streamed through a
   * 2-thread zstd -3, full_backup_<time>.dump.zst; `zstd -d` gives the standard .dump) or pg_dump
   * (gzip inside pg_dump at LIFEBOAT_DUMP_COMPRESSION, one core, .dump). Parallel jobs use pg_dump's.
   */
  LIFEBOAT_DUMP_COMPRESSOR: z.enum(["zstd", "pg_dump"], { error: "must be zstd or pg_dump" }).default("zstd"),
  /** pg_dump/pg_restore jobs: above 1, full dumps use the directory format (full_backup_<time>.dir/). */
  LIFEBOAT_DUMP_JOBS: z.coerce.number().int("must be a whole number").min(1, "must be 1 to 64").max(64, "must be 1 to 64").default(1),
  /**
   * Base backups: tar compressed by the server with zstd (level 3, 2 workers; the default: about 6x
   * smaller and faster than a plain copy, docs/benchmarks.md), lz4 (server), or none (a plain data
   * directory, checked with pg_verifybackup).
   */
  LIFEBOAT_BASE_COMPRESSION: z.enum(["zstd", "lz4", "none"], { error: "must be zstd, lz4 or none" }).default("zstd"),
  /** Files the environment backup carries (comma separated, relative to the working folder). */
  LIFEBOAT_ENV_FILES: z.string().default(".env,docker-compose.yml"),
  /** How bin/archive-wal stores segments for clusters Lifeboat configures: plain, or zstd (-1, ~4x smaller). */
  LIFEBOAT_WAL_COMPRESSION: z.enum(["none", "zstd"], { error: "must be none or zstd" }).default("none"),
  /** Zone the default schedules' cron times are read in (02:00 backups, Sunday 03:00 cleanup, monthly drill). */
  LIFEBOAT_SCHEDULE_TIMEZONE: z.string().default("UTC"),
  /** Zone for PITR times written without an offset ("2026-01-15 14:30:00"); an IANA name. */
  LIFEBOAT_TIMEZONE: z.string().default("UTC"),
  /** Keep the data directory an in-place PITR replaced (default: removed once the result is healthy). */
  LIFEBOAT_PITR_KEEP_PREVIOUS: z.preprocess(emptyToUndefined, booleanFlag.default(false)),
  /**
   * Key (32 bytes, base64) that encrypts target passwords stored in the metadata database
   * (AES-256-GCM, bound to the target's name, host, port and user). Generate: openssl rand -base64 32
   */
  LIFEBOAT_SECRETS_KEY: z.preprocess(emptyToUndefined, z.string().min(40, "must be 32 random bytes in base64 (openssl rand -base64 32)").optional()),
  /** Key that seals the audit log (HMAC); without it one is derived from AUTH_SECRET. */
  LIFEBOAT_AUDIT_KEY: z.preprocess(emptyToUndefined, z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)").optional()),
  /** How long a backup or restore waits for a table lock held by the application (seconds) before failing. */
  LIFEBOAT_LOCK_TIMEOUT: z.coerce.number().int().min(1, "must be 1 to 86400 seconds").max(86_400, "must be 1 to 86400 seconds").default(300),
  /** Include role password hashes in the globals dump of environment backups. */
  LIFEBOAT_ENV_ROLE_PASSWORDS: z.preprocess(emptyToUndefined, booleanFlag.default(false)),
  /** The seed's RPO: at most this many minutes of commits may be unarchived (health goes critical past it). */
  LIFEBOAT_RPO_TARGET_MINUTES: minutes(60),
  /** The seed's RTOs: a drill slower than these is critical (full restore 30, PITR 60, partial 20 minutes). */
  LIFEBOAT_RTO_FULL_MINUTES: minutes(30),
  LIFEBOAT_RTO_PITR_MINUTES: minutes(60),
  LIFEBOAT_RTO_PARTIAL_MINUTES: minutes(20),
  /** Bearer token /api/metrics requires (Prometheus' authorization: credentials); unset, metrics are off. */
  LIFEBOAT_METRICS_TOKEN: z.preprocess(emptyToUndefined, z.string().min(16, "must be at least 16 characters (openssl rand -hex 16)").optional()),
  /** Off-site copies: an S3-compatible bucket (unset: local repository only). */
  LIFEBOAT_S3_BUCKET: z.preprocess(emptyToUndefined, z.string().min(3, "must be a bucket name").optional()),
  /** The storage's URL (unset: AWS S3 itself), e.g. https://s3.eu-central-1.wasabisys.com or http://127.0.0.1:9000. */
  LIFEBOAT_S3_ENDPOINT: z.preprocess(emptyToUndefined, z.url("must be a URL such as https://s3.example.com").optional()),
  LIFEBOAT_S3_REGION: z.string().min(1).default("us-east-1"),
  /** Folder inside the bucket; each target's repository is <prefix>/<target>/. */
  LIFEBOAT_S3_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$|^$/, "must be a folder name such as lifeboat or backups/prod (no leading or trailing slash)")
    .default("lifeboat"),
  /** Path-style URLs (bucket in the path), which most S3-compatible servers need; default on with an endpoint. */
  LIFEBOAT_S3_FORCE_PATH_STYLE: z.preprocess(emptyToUndefined, booleanFlag.optional()),
  LIFEBOAT_S3_ACCESS_KEY_ID: z.preprocess(emptyToUndefined, z.string().optional()),
  LIFEBOAT_S3_SECRET_ACCESS_KEY: z.preprocess(emptyToUndefined, z.string().optional()),
  /** A file with the credentials instead (JSON {accessKeyId, secretAccessKey}, or the two on two lines). */
  LIFEBOAT_S3_CREDENTIALS_FILE: z.preprocess(emptyToUndefined, z.string().optional()),
  /** Where backups are kept: local only, object storage only (the local folder only stages), or both (3-2-1). */
  LIFEBOAT_REPOSITORIES: z.preprocess(emptyToUndefined, z.enum(["local", "offsite", "both"], { error: "must be local, offsite or both" }).optional()),
  /** Encrypt (age, to LIFEBOAT_AGE_RECIPIENTS) everything sent to the bucket; always on when LIFEBOAT_ENCRYPT_BACKUPS is. */
  LIFEBOAT_S3_ENCRYPT: z.preprocess(emptyToUndefined, booleanFlag.default(false)),
  /** Days the off-site copy keeps each backup (its own retention; default: the local days). */
  LIFEBOAT_OFFSITE_RETENTION_DAYS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int("must be whole days").min(1, "must be 1 to 36500 days").max(36_500, "must be 1 to 36500 days").optional(),
  ),
});

export type TEnv = z.infer<typeof ZEnv>;

export class EnvError extends LifeboatError {
  constructor(message: string) {
    super("CONFIGURATION", message);
  }
}

/** Parse a set of variables; throws EnvError with one line naming the first bad variable. */
export function parseEnv(source: Record<string, string | undefined>): TEnv {
  const result = ZEnv.safeParse(source);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = issue?.path.join(".") || "environment";
  const received = issue && issue.code !== "invalid_type" && !isSecretName(name) ? receivedValue(source, name) : "";
  throw new EnvError(`Invalid configuration: ${name} ${issue?.message ?? "is invalid"}${received}`);
}

function isSecretName(name: string): boolean {
  return /PASSWORD|SECRET|DATABASE_URL|KEY|TOKEN/.test(name);
}

function receivedValue(source: Record<string, string | undefined>, name: string): string {
  const value = source[name];
  return value === undefined ? "" : ` (got ${JSON.stringify(value)})`;
}

let cached: TEnv | undefined;

/** The process's configuration, parsed once. */
export function getEnv(): TEnv {
  cached ??= parseEnv(process.env);
  return cached;
}

/** Whether the auth secret is configured; the web app refuses to start without it. */
export function requireAuthSecret(env: TEnv = getEnv()): string {
  if (!env.AUTH_SECRET) {
    throw new EnvError("Invalid configuration: AUTH_SECRET is required (generate one with: openssl rand -base64 32)");
  }
  return env.AUTH_SECRET;
}

/**
 * Environment variables a target's password may be read from: the seed's DB_PASSWORD, and
 * LIFEBOAT_TARGET_<NAME>_PASSWORD. Nothing else, so a tampered target row cannot make Lifeboat
 * read AUTH_SECRET (or any other secret) and send it to a host of its choosing.
 */
export const PASSWORD_VARIABLE = /^(DB_PASSWORD|LIFEBOAT_TARGET_[A-Z0-9_]{1,60}_PASSWORD)$/;

/** The value of an allowed password variable (undefined when unset); throws for any other name. */
export function readPasswordVariable(name: string): string | undefined {
  if (!PASSWORD_VARIABLE.test(name)) throw new EnvError(`Invalid configuration: ${JSON.stringify(name)} is not a variable a password may be read from`);
  const value = process.env[name];
  return value === "" ? undefined : value;
}

const CHILD_ENV_NAMES = new Set(["PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR"]);

/**
 * The environment handed to child processes (pg_dump, initdb, zstd, ...), by allow-list: PATH,
 * HOME, locale and time zone, nothing else. No secret of Lifeboat's (the metadata password, other
 * targets' passwords, AUTH_SECRET) and no stray libpq variable reaches a child; callers add
 * exactly the PG* variables and passfile a job needs.
 */
export function childProcessEnv(): NodeJS.ProcessEnv {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (CHILD_ENV_NAMES.has(key) || key.startsWith("LC_")) base[key] = value;
  }
  return base as NodeJS.ProcessEnv;
}
