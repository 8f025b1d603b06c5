/**
 * The kinds of artifact a repository holds, defined once: file names (DESIGN.md's seed-compatible
 * layout), labels, and the shapes a manifest may name. The metadata database's enum is built from
 * ARTIFACT_KINDS too.
 */
export const ARTIFACT_KINDS = ["full", "schema", "json", "env", "base"] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/** Kinds written from a logical snapshot or the environment; `base` is physical. */
export const LOGICAL_KINDS = ["full", "schema", "json", "env"] as const;
export type LogicalKind = (typeof LOGICAL_KINDS)[number];

export function isArtifactKind(value: unknown): value is ArtifactKind {
  return typeof value === "string" && (ARTIFACT_KINDS as readonly string[]).includes(value);
}

export const KIND_LABELS: Record<ArtifactKind, string> = {
  full: "a full dump",
  schema: "a schema dump",
  json: "a JSON export",
  env: "an environment backup",
  base: "a base backup",
};

/** A target's folder name: lowercase letters, digits, '-' and '_' (never '.', '/' or '..'). */
export const TARGET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function isTargetName(value: unknown): value is string {
  return typeof value === "string" && TARGET_NAME.test(value);
}

/** The rule, in words, for every message that refuses a name. */
export const TARGET_NAME_RULE = "lowercase letters, digits, '-' and '_', at most 63";

/** 2026-01-15T02:00:00.123Z → 2026-01-15T02-00-00Z (the seed's file-name timestamps, in UTC). */
export function backupTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/:/g, "-");
}

const TIMESTAMP = "\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}Z";

const PREFIX: Record<LogicalKind, string> = { full: "full_backup_", schema: "schema_", json: "data_export_", env: "env_" };
const SUFFIX: Record<LogicalKind, string> = { full: ".dump", schema: ".sql", json: ".json.gz", env: ".tar" };

/**
 * File name of an artifact in its target's folder; `.age` when encrypted; a full dump streamed
 * through zstd is `full_backup_<time>.dump.zst`. A full dump in pg_dump's
 * directory format (parallel jobs) is a folder, `full_backup_<time>.dir`; a base backup is the
 * folder `base/<time>`.
 */
export function artifactFileName(kind: ArtifactKind, timestamp: string, options: { encrypted?: boolean; directory?: boolean; zstd?: boolean } = {}): string {
  if (kind === "base") return `base/${timestamp}`;
  if (options.directory) return `${PREFIX[kind]}${timestamp}.dir`;
  return `${PREFIX[kind]}${timestamp}${SUFFIX[kind]}${options.zstd && kind === "full" ? ".zst" : ""}${options.encrypted ? ".age" : ""}`;
}

const ARTIFACT_NAME: Record<ArtifactKind, RegExp> = {
  full: new RegExp(`^full_backup_${TIMESTAMP}(\\.dump(\\.zst)?(\\.age)?|\\.dir)$`),
  schema: new RegExp(`^schema_${TIMESTAMP}\\.sql(\\.age)?$`),
  json: new RegExp(`^data_export_${TIMESTAMP}\\.json\\.gz(\\.age)?$`),
  env: new RegExp(`^env_${TIMESTAMP}\\.tar\\.age$`),
  base: new RegExp(`^base/${TIMESTAMP}$`),
};

/** Whether `name` is a well-formed artifact name of `kind` (manifests are untrusted input). */
export function isArtifactName(kind: ArtifactKind, name: string): boolean {
  return ARTIFACT_NAME[kind].test(name);
}

/** The kind a file name has by its shape, if any. */
export function kindOfFileName(name: string): ArtifactKind | undefined {
  return ARTIFACT_KINDS.find((kind) => ARTIFACT_NAME[kind].test(name));
}

export function manifestFileName(artifactFile: string): string {
  return `${artifactFile}.manifest.json`;
}
