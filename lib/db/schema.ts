import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, check, index, integer, jsonb, pgEnum, pgTable, serial, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { ARTIFACT_KINDS } from "@/lib/engine/repository/artifact-kinds";

/**
 * Lifeboat's metadata store. The repository (backups/<target>/ with its manifests) is the source
 * of truth for backups; these tables index it and hold what only Lifeboat knows: runs, schedules,
 * users and the audit log. Change this file, then `npm run db:generate` and commit the migration.
 */

export const roleEnum = pgEnum("user_role", ["viewer", "operator", "admin"]);
/** interrupted: the process running it died (SIGKILL, OOM, power loss); found by the next operation or worker start. */
export const runStatusEnum = pgEnum("run_status", ["queued", "running", "succeeded", "failed", "canceled", "interrupted"]);
export const artifactKindEnum = pgEnum("artifact_kind", ARTIFACT_KINDS);
export const artifactStatusEnum = pgEnum("artifact_status", ["available", "missing", "damaged", "deleted"]);

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const targets = pgTable("targets", {
  id: serial("id").primaryKey(),
  /** Folder name in the repository: backups/<name>/. */
  name: text("name").notNull().unique(),
  host: text("host").notNull(),
  port: integer("port").notNull(),
  database: text("database").notNull(),
  username: text("username").notNull(),
  /**
   * Where the password comes from, never the password in clear: "env:LIFEBOAT_TARGET_<NAME>_PASSWORD"
   * (or DB_PASSWORD for the default target), or "enc:v1:…" (AES-256-GCM under LIFEBOAT_SECRETS_KEY,
   * bound to the name, host, port and user).
   */
  passwordRef: text("password_ref"),
  /** Set for a managed cluster (this host controls its data directory): enables PITR and drills. */
  dataDir: text("data_dir"),
  /** The cluster's configuration directory when it lives outside the data directory (Debian: /etc/postgresql/15/main). */
  configDir: text("config_dir"),
  /** How the cluster is stopped and started on this host (lib/engine/cluster/managed-cluster.ts ClusterControl). */
  control: jsonb("control").$type<Record<string, unknown>>(),
  /** The OS user the server runs as. */
  osUser: text("os_user"),
  /**
   * HMAC (LIFEBOAT_SECRETS_KEY) over the name and the host fields above (data and configuration
   * directories, control, OS user): they decide what Lifeboat runs and deletes on this host, so a
   * row edited by anyone without the key is refused.
   */
  hostSeal: text("host_seal"),
  /** Path to the target app's schema.prisma, for JSON exports named after its models. */
  prismaSchemaPath: text("prisma_schema_path"),
  createdAt: createdAt(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export const users = pgTable(
  "users",
  {
    id: serial("id").primaryKey(),
    email: text("email").notNull(),
    name: text("name"),
    /** bcrypt hash; the plain password is never stored. */
    passwordHash: text("password_hash").notNull(),
    role: roleEnum("role").notNull().default("viewer"),
    disabled: boolean("disabled").notNull().default(false),
    createdAt: createdAt(),
    lastSignInAt: timestamp("last_sign_in_at", { withTimezone: true }),
  },
  (table) => [uniqueIndex("users_email_lower_idx").on(sql`lower(${table.email})`)],
);

/**
 * One row per signed-in browser session. The session cookie (a JWT) carries the row's id; every
 * request checks the row, so signing out, disabling the user or resetting their password revokes
 * a copied cookie at once instead of when it expires.
 */
export const sessions = pgTable(
  "sessions",
  {
    /** Random, 32 bytes base64url. */
    id: text("id").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    /** The address it signed in from (audit and the users page). */
    address: text("address"),
  },
  (table) => [index("sessions_user_idx").on(table.userId)],
);

/**
 * Sign-in attempts, for the rate limit (lib/auth/sign-in-limit.ts). In the metadata database so
 * every server process counts the same attempts. Rows older than a day are deleted as new ones come.
 */
export const signInAttempts = pgTable(
  "sign_in_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    /** The email as typed, lowercased (attempts on unknown accounts count too). */
    email: text("email").notNull(),
    address: text("address").notNull(),
    /** pending (password being checked) | failed | succeeded | limited (refused before the check) */
    outcome: text("outcome").notNull(),
  },
  (table) => [
    index("sign_in_attempts_email_address_idx").on(table.email, table.address, table.at),
    index("sign_in_attempts_address_idx").on(table.address, table.at),
    index("sign_in_attempts_at_idx").on(table.at),
  ],
);

export const runs = pgTable(
  "runs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    targetId: integer("target_id").references(() => targets.id, { onDelete: "set null" }),
    /** backup | restore | verify | pitr | retention | archive-stats ... */
    kind: text("kind").notNull(),
    status: runStatusEnum("status").notNull().default("queued"),
    /** The step in progress, shown by the UI ("dumping", "checksumming", "renaming"). */
    phase: text("phase"),
    bytesDone: bigint("bytes_done", { mode: "number" }).notNull().default(0),
    bytesTotal: bigint("bytes_total", { mode: "number" }),
    params: jsonb("params").$type<Record<string, unknown>>().notNull().default({}),
    /** Safe one-line message, shown to everyone who can see the run. */
    error: text("error"),
    /** Full stderr of the tools (secrets redacted), shown to admins only. */
    stderr: text("stderr"),
    /** What the operation reported (its verdict's fields: sizes, measured RTO of a drill, what a cleanup freed). */
    result: jsonb("result").$type<Record<string, unknown>>(),
    triggeredBy: text("triggered_by").notNull().default("cli"),
    /** Host and pid of the process running it: a run whose process is gone is interrupted. */
    host: text("host"),
    pid: integer("pid"),
    userId: integer("user_id").references(() => users.id, { onDelete: "set null" }),
    queuedAt: createdAt(),
    /** Set by `npm run cancel` (or the dashboard): the worker running it aborts it. */
    cancelRequestedAt: timestamp("cancel_requested_at", { withTimezone: true }),
    /** The pg-boss job that carries it, when it was queued. */
    jobId: text("job_id"),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    durationMs: integer("duration_ms"),
  },
  (table) => [index("runs_target_started_idx").on(table.targetId, table.startedAt)],
);

export const backupArtifacts = pgTable(
  "backup_artifacts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    targetId: integer("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    runId: bigint("run_id", { mode: "number" }).references(() => runs.id, { onDelete: "set null" }),
    kind: artifactKindEnum("kind").notNull(),
    /** Path relative to the target's repository folder, e.g. full_backup_2026-01-15T02-00-00Z.dump. */
    fileName: text("file_name").notNull(),
    manifestFile: text("manifest_file").notNull(),
    status: artifactStatusEnum("status").notNull().default("available"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true }).notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    sha256: text("sha256"),
    serverVersion: text("server_version"),
    toolVersion: text("tool_version"),
    compression: text("compression"),
    encrypted: boolean("encrypted").notNull().default(false),
    walStartLsn: text("wal_start_lsn"),
    walStopLsn: text("wal_stop_lsn"),
    timeline: integer("timeline"),
    verifiedAt: timestamp("verified_at", { withTimezone: true }),
    verifyStatus: text("verify_status"),
    /** The whole manifest as written to the repository. */
    manifest: jsonb("manifest").$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex("backup_artifacts_target_file_idx").on(table.targetId, table.fileName),
    index("backup_artifacts_target_finished_idx").on(table.targetId, table.finishedAt),
    check("backup_artifacts_size_check", sql`${table.sizeBytes} >= 0`),
  ],
);

export const schedules = pgTable("schedules", {
  id: serial("id").primaryKey(),
  targetId: integer("target_id")
    .notNull()
    .references(() => targets.id, { onDelete: "cascade" }),
  /** The operation it runs: backup, cleanup or verify. */
  kind: text("kind").notNull(),
  /** The operation's input (e.g. { kinds: ["base"] }); the target is the schedule's. */
  input: jsonb("input").$type<Record<string, unknown>>().notNull().default({}),
  cron: text("cron").notNull(),
  timezone: text("timezone").notNull().default("UTC"),
  retentionDays: integer("retention_days"),
  enabled: boolean("enabled").notNull().default(true),
  /** When the scheduler last fired it (the next run is computed from here). */
  lastFiredAt: timestamp("last_fired_at", { withTimezone: true }),
  lastRunId: bigint("last_run_id", { mode: "number" }),
  createdAt: createdAt(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** pg_stat_archiver and the archive backlog, sampled over time (health charts, RPO exposure). */
export const archiverSamples = pgTable(
  "archiver_samples",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    targetId: integer("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sampledAt: timestamp("sampled_at", { withTimezone: true }).notNull().defaultNow(),
    archivedCount: bigint("archived_count", { mode: "number" }).notNull(),
    failedCount: bigint("failed_count", { mode: "number" }).notNull(),
    lastArchivedWal: text("last_archived_wal"),
    lastArchivedAt: timestamp("last_archived_at", { withTimezone: true }),
    lastFailedWal: text("last_failed_wal"),
    lastFailedAt: timestamp("last_failed_at", { withTimezone: true }),
    /** .ready files waiting in pg_wal/archive_status (null when the role may not list them). */
    readyCount: integer("ready_count"),
    /** Seconds of commits not yet archived (since the last archived commit): the data a disaster now would lose. */
    rpoExposureSeconds: integer("rpo_exposure_seconds"),
    lastArchivedCommitAt: timestamp("last_archived_commit_at", { withTimezone: true }),
    unarchivedBytes: bigint("unarchived_bytes", { mode: "number" }),
    /** Free bytes on the volume of the data directory (sampled by the agent on the database host). */
    dataVolumeFreeBytes: bigint("data_volume_free_bytes", { mode: "number" }),
    healthy: boolean("healthy").notNull(),
    alert: text("alert"),
  },
  (table) => [index("archiver_samples_target_time_idx").on(table.targetId, table.sampledAt)],
);

/** Where notifications go: a generic JSON webhook or a Slack-compatible one. */
export const webhooks = pgTable("webhooks", {
  id: serial("id").primaryKey(),
  url: text("url").notNull(),
  format: text("format").notNull().default("json"),
  /** Which events: failure, critical (a health check), drill; empty = all. */
  events: jsonb("events").$type<string[]>().notNull().default([]),
  enabled: boolean("enabled").notNull().default(true),
  createdAt: createdAt(),
});

/** Each health check's current state per target (the dashboard, /api/metrics, and "turned critical" notices read it). */
export const healthStates = pgTable(
  "health_states",
  {
    id: serial("id").primaryKey(),
    targetId: integer("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    /** e.g. "size:full", "age:base", "archiving", "rto:pitr". */
    checkId: text("check_id").notNull(),
    /** ok | warning | critical */
    state: text("state").notNull(),
    title: text("title").notNull(),
    message: text("message").notNull(),
    /** When the check last changed state. */
    since: timestamp("since", { withTimezone: true }).notNull(),
    checkedAt: timestamp("checked_at", { withTimezone: true }).notNull(),
  },
  (table) => [uniqueIndex("health_states_target_check_idx").on(table.targetId, table.checkId)],
);

/** Every notification sent (or not), with its attempts. */
export const deliveries = pgTable(
  "deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    webhookId: integer("webhook_id").references(() => webhooks.id, { onDelete: "cascade" }),
    event: text("event").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** pending | delivered | failed */
    status: text("status").notNull().default("pending"),
    lastError: text("last_error"),
    createdAt: createdAt(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (table) => [index("deliveries_created_idx").on(table.createdAt)],
);

/**
 * Append-only audit log. Each row's `hash` is sha256 over its content and `prevHash` (the previous
 * row's hash), so editing or deleting a row breaks the chain at that row.
 */
export const auditLog = pgTable("audit_log", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  at: timestamp("at", { withTimezone: true, precision: 3 }).notNull(),
  actorId: integer("actor_id"),
  actorEmail: text("actor_email"),
  action: text("action").notNull(),
  /** allowed | denied | failed | succeeded */
  outcome: text("outcome").notNull(),
  subject: text("subject"),
  details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
  prevHash: text("prev_hash").notNull(),
  hash: text("hash").notNull().unique(),
});

export type Target = typeof targets.$inferSelect;
export type User = typeof users.$inferSelect;
export type Run = typeof runs.$inferSelect;
export type BackupArtifact = typeof backupArtifacts.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
export type ArchiverSample = typeof archiverSamples.$inferSelect;
export type Schedule = typeof schedules.$inferSelect;
export type Webhook = typeof webhooks.$inferSelect;
export type HealthStateRow = typeof healthStates.$inferSelect;
export type Role = (typeof roleEnum.enumValues)[number];
export type SessionRow = typeof sessions.$inferSelect;
