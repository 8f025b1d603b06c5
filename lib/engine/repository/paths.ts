import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import { LifeboatError } from "../errors";

export class UnsafePathError extends LifeboatError {
  constructor(name: string, reason: string, details: { suggestions?: string[] } = {}) {
    super("UNSAFE_PATH", `Refusing file name ${JSON.stringify(name.replace(/\0/g, "\\0"))}: ${reason}`, details);
  }
}

/** A relative name with no '..', no absolute start, no NUL and no empty part. */
export function isConfinedRelativeName(name: string): boolean {
  if (!name || name.includes("\0") || path.isAbsolute(name) || name.includes("\\")) return false;
  return name.split("/").every((part) => part !== "" && part !== "." && part !== "..");
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
    throw new UnsafePathError(name, "there are no backups of this target yet");
  });
  const base = path.basename(name);
  if (base !== name) {
    // A path as the seed's users type it (backups/<target>/file): fine when it names this folder.
    const parent = await realpath(path.dirname(path.resolve(name))).catch(() => "");
    if (parent !== realTargetDir) throw new UnsafePathError(name, `only files directly in the target's folder can be restored`);
  }
  if (base === "" || base.startsWith(".")) throw new UnsafePathError(name, "hidden and temporary files are not backups");
  const full = path.join(realTargetDir, base);
  const info = await lstat(full).catch(() => undefined);
  if (!info) throw new UnsafePathError(name, "there is no such backup");
  if (info.isSymbolicLink()) throw new UnsafePathError(name, "it is a symbolic link");
  const dumpFolder = info.isDirectory() && base.endsWith(".dir");
  if (!info.isFile() && !dumpFolder) throw new UnsafePathError(name, "it is not a file");
  return full;
}
