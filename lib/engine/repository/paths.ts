import { lstat, realpath } from "node:fs/promises";
import path from "node:path";

export type ArtifactKind = "full" | "schema" | "json" | "env" | "base";

/** 2026-01-15T02:00:00.123Z → 2026-01-15T02-00-00Z (the seed's file-name timestamps, in UTC). */
export function backupTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/:/g, "-");
}

const PREFIX: Record<Exclude<ArtifactKind, "base">, string> = {
  full: "full_backup_",
  schema: "schema_",
  json: "data_export_",
  env: "env_",
};

const SUFFIX: Record<Exclude<ArtifactKind, "base">, string> = {
  full: ".dump",
  schema: ".sql",
  json: ".json.gz",
  env: ".tar",
};

/**
 * File name of an artifact in its target's folder (DESIGN.md's layout); `.age` when encrypted.
 * A full dump in pg_dump's directory format (parallel jobs) is a folder, `full_backup_<time>.dir`.
 */
export function artifactFileName(kind: Exclude<ArtifactKind, "base">, timestamp: string, encrypted: boolean, directory = false): string {
  if (directory) return `${PREFIX[kind]}${timestamp}.dir`;
  return `${PREFIX[kind]}${timestamp}${SUFFIX[kind]}${encrypted ? ".age" : ""}`;
}

export function manifestFileName(artifactFile: string): string {
  return `${artifactFile}.manifest.json`;
}

export class UnsafePathError extends Error {
  readonly code = "UNSAFE_PATH";
  constructor(name: string, reason: string) {
    super(`Refusing file name ${JSON.stringify(name.replace(/\0/g, "\\0"))}: ${reason}`);
    this.name = "UnsafePathError";
  }
}

/**
 * Resolve a file name that came from a user (CLI argument, request) to a file directly inside the
 * target's folder. Refuses NUL bytes, absolute paths, any folder part (`..`, `a/b`), hidden and
 * temporary names, and symlinks (whose target could be anywhere).
 */
export async function resolveArtifactPath(targetDir: string, name: string): Promise<string> {
  if (name.includes("\0")) throw new UnsafePathError(name, "it contains a NUL byte");
  if (name.split(/[\\/]/).includes("..")) throw new UnsafePathError(name, "'..' is not allowed");
  const realTargetDir = await realpath(targetDir).catch(() => {
    throw new UnsafePathError(name, `there are no backups in ${targetDir}`);
  });
  const base = path.basename(name);
  if (base !== name) {
    // A path as the seed's users type it (backups/<target>/file): fine when it names this folder.
    const parent = await realpath(path.dirname(path.resolve(name))).catch(() => "");
    if (parent !== realTargetDir) throw new UnsafePathError(name, `only files directly in ${targetDir} can be restored`);
  }
  if (base === "" || base.startsWith(".")) throw new UnsafePathError(name, "hidden and temporary files are not backups");
  const full = path.join(realTargetDir, base);
  const info = await lstat(full).catch(() => undefined);
  if (!info) throw new UnsafePathError(name, `there is no such backup in ${targetDir}`);
  if (info.isSymbolicLink()) throw new UnsafePathError(name, "it is a symbolic link");
  const dumpFolder = info.isDirectory() && base.endsWith(".dir");
  if (!info.isFile() && !dumpFolder) throw new UnsafePathError(name, "it is not a file");
  return full;
}
