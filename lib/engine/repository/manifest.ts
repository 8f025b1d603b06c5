import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { commitFile, FILE_MODE, fileSize, sha256File, tempPath } from "./files";
import { manifestFileName } from "./paths";

/** Every artifact has one: what it is, where it came from, and the sha256 of every file. */
export const ZManifest = z.object({
  format: z.literal("lifeboat-manifest"),
  version: z.literal(1),
  kind: z.enum(["full", "schema", "json", "env", "base"]),
  target: z.string(),
  /** The artifact's file (or folder, for base backups) name in the target's folder. */
  artifact: z.string(),
  database: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  files: z.array(z.object({ name: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  sizeBytes: z.number().int().nonnegative(),
  serverVersion: z.string(),
  systemIdentifier: z.string().optional(),
  toolVersions: z.record(z.string(), z.string()),
  compression: z.string(),
  encryption: z.object({ format: z.literal("age"), recipients: z.array(z.string()) }).nullable(),
  /** Exact row counts per table, taken in the same snapshot as the dump. */
  tableRowCounts: z.record(z.string(), z.number().int().nonnegative()).optional(),
  restorePoint: z.string().nullable().optional(),
  walStartLsn: z.string().optional(),
  walStopLsn: z.string().optional(),
  timeline: z.number().int().optional(),
  /** Base backups: wal_segment_size of the cluster, in bytes. */
  walSegmentSize: z.number().int().positive().optional(),
  notes: z.array(z.string()).optional(),
});

export type Manifest = z.infer<typeof ZManifest>;

/** Describe one file for the manifest: its name, size and sha256. */
export async function describeFile(dir: string, name: string): Promise<Manifest["files"][number]> {
  const file = path.join(dir, name);
  return { name, size: await fileSize(file), sha256: await sha256File(file) };
}

/** Describe every file of a folder artifact (names relative to the target's folder). */
export async function describeFolder(dir: string, folder: string): Promise<Manifest["files"]> {
  const names = (await readdir(path.join(dir, folder), { withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
  return Promise.all(names.map((name) => describeFile(dir, `${folder}/${name}`)));
}

/** Write the manifest beside its artifact, atomically. */
export async function writeManifest(targetDir: string, manifest: Manifest): Promise<string> {
  const name = manifestFileName(manifest.artifact);
  const final = path.join(targetDir, name);
  // Base backups' manifests live in base/: the temp file goes beside the final name.
  const temp = tempPath(path.dirname(final), path.basename(final));
  await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: FILE_MODE, flag: "wx" });
  await commitFile(temp, final);
  return name;
}

export class ManifestError extends Error {
  readonly code = "MANIFEST_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

export async function readManifest(targetDir: string, artifact: string): Promise<Manifest> {
  const file = path.join(targetDir, manifestFileName(artifact));
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ManifestError(`${artifact} has no manifest (${manifestFileName(artifact)}); it may be incomplete or not a Lifeboat backup.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ManifestError(`The manifest of ${artifact} is not valid JSON.`);
  }
  const result = ZManifest.safeParse(parsed);
  if (!result.success)
    throw new ManifestError(`The manifest of ${artifact} is malformed: ${result.error.issues[0]?.path.join(".")} ${result.error.issues[0]?.message}`);
  if (result.data.artifact !== artifact) throw new ManifestError(`The manifest beside ${artifact} describes ${result.data.artifact}.`);
  return result.data;
}

export type VerifyResult = { ok: true } | { ok: false; problems: string[] };

/** Check every file the manifest lists: present, same size, same sha256. */
export async function verifyAgainstManifest(targetDir: string, manifest: Manifest): Promise<VerifyResult> {
  const problems: string[] = [];
  for (const entry of manifest.files) {
    const file = path.join(targetDir, entry.name);
    const size = await fileSize(file).catch(() => undefined);
    if (size === undefined) {
      problems.push(`${entry.name}: missing`);
      continue;
    }
    if (size !== entry.size) {
      problems.push(`${entry.name}: size ${size} bytes, manifest says ${entry.size}`);
      continue;
    }
    if ((await sha256File(file)) !== entry.sha256) problems.push(`${entry.name}: content changed (sha256 differs from the manifest)`);
  }
  if (manifest.kind === "full" && manifest.artifact.endsWith(".dir")) {
    // A directory-format dump: a file that is not in the manifest is damage too.
    const listed = new Set(manifest.files.map((f) => f.name));
    const present = await readdir(path.join(targetDir, manifest.artifact)).catch(() => [] as string[]);
    for (const name of present)
      if (!listed.has(`${manifest.artifact}/${name}`)) problems.push(`${manifest.artifact}/${name}: not in the manifest (extra file)`);
  }
  return problems.length ? { ok: false, problems } : { ok: true };
}
