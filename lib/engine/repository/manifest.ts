import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { LifeboatError } from "../errors";
import { ARTIFACT_KINDS, isArtifactName } from "./artifact-kinds";
import { fileSize, sha256File } from "./files";
import { isConfinedRelativeName } from "./paths";

const ZFileEntry = z.object({ name: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * Every artifact has one: what it is, where it came from, and the sha256 of every file. Manifests
 * are read back as untrusted input: the artifact's name must have its kind's shape, every file it
 * lists must lie inside the artifact, and it must list at least one file.
 */
export const ZManifest = z
  .object({
    format: z.literal("lifeboat-manifest"),
    version: z.literal(1),
    kind: z.enum(ARTIFACT_KINDS),
    target: z.string(),
    /** The artifact's file (or folder) name relative to the target's folder. */
    artifact: z.string(),
    database: z.string().optional(),
    startedAt: z.string(),
    finishedAt: z.string(),
    files: z.array(ZFileEntry).min(1, "lists no file (nothing could be verified)"),
    sizeBytes: z.number().int().nonnegative(),
    serverVersion: z.string(),
    systemIdentifier: z.string().optional(),
    toolVersions: z.record(z.string(), z.string()),
    compression: z.string(),
    encryption: z.object({ format: z.literal("age"), recipients: z.array(z.string()) }).nullable(),
    /** Exact row counts per table, taken in the same snapshot as the dump. */
    tableRowCounts: z.record(z.string(), z.number().int().nonnegative()).optional(),
    /** Content checksum per table in the same snapshot (full dumps): what a restore drill compares. */
    tableChecksums: z.record(z.string(), z.string().regex(/^(?:\d+|h:-?\d+)$/)).optional(),
    restorePoint: z.string().nullable().optional(),
    walStartLsn: z.string().optional(),
    walStopLsn: z.string().optional(),
    timeline: z.number().int().optional(),
    /** Base backups: wal_segment_size of the cluster, in bytes. */
    walSegmentSize: z.number().int().positive().optional(),
    /** A check that passed before the manifest was written (pg_verifybackup for base backups). */
    verification: z.object({ tool: z.string(), at: z.string(), ok: z.boolean() }).optional(),
    notes: z.array(z.string()).optional(),
  })
  .superRefine((m, ctx) => {
    if (!isArtifactName(m.kind, m.artifact)) ctx.addIssue({ code: "custom", path: ["artifact"], message: `is not the name of ${m.kind} artifact` });
    for (const [i, file] of m.files.entries()) {
      const inside = file.name === m.artifact || file.name.startsWith(`${m.artifact}/`);
      if (!inside || !isConfinedRelativeName(file.name)) ctx.addIssue({ code: "custom", path: ["files", i, "name"], message: "lies outside the artifact" });
    }
  });

export type Manifest = z.infer<typeof ZManifest>;
export type ManifestFileEntry = Manifest["files"][number];

export class ManifestError extends LifeboatError {
  constructor(message: string) {
    super("MANIFEST_INVALID", message);
  }
}

/** Parse a manifest's text; `artifact` is the name it was found under (it must describe that). */
export function parseManifest(text: string, artifact: string): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ManifestError(`The manifest of ${artifact} is not valid JSON.`);
  }
  const result = ZManifest.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ManifestError(`The manifest of ${artifact} is malformed: ${issue?.path.join(".")} ${issue?.message}`);
  }
  if (result.data.artifact !== artifact) throw new ManifestError(`The manifest beside ${artifact} describes ${result.data.artifact}.`);
  return result.data;
}

/** Describe one file for the manifest: its name, size and sha256. */
export async function describeFile(dir: string, name: string): Promise<ManifestFileEntry> {
  const file = path.join(dir, name);
  return { name, size: await fileSize(file), sha256: await sha256File(file) };
}

/** Describe every file of a folder artifact (names relative to the target's folder). */
export async function describeFolder(dir: string, folder: string): Promise<ManifestFileEntry[]> {
  const names = (await readdir(path.join(dir, folder), { withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
  return Promise.all(names.map((name) => describeFile(dir, `${folder}/${name}`)));
}

export type VerifyResult = { ok: true } | { ok: false; problems: string[] };

/** Check every file the manifest lists: present, same size, same sha256; and nothing extra in a dump folder. */
export async function verifyAgainstManifest(targetDir: string, manifest: Manifest): Promise<VerifyResult> {
  // Parsed manifests are confined already; this guards one built by hand.
  if (manifest.files.length === 0 || !manifest.files.every((f) => isConfinedRelativeName(f.name))) {
    return { ok: false, problems: [`${manifest.artifact}: the manifest lists no verifiable file`] };
  }
  const problems: string[] = [];
  for (const entry of manifest.files) {
    const file = path.join(targetDir, entry.name);
    const info = await lstat(file).catch(() => undefined);
    if (!info) {
      problems.push(`${entry.name}: missing`);
      continue;
    }
    if (!info.isFile()) {
      problems.push(`${entry.name}: not a regular file`);
      continue;
    }
    const size = info.size;
    if (size !== entry.size) {
      problems.push(`${entry.name}: size ${size} bytes, manifest says ${entry.size}`);
      continue;
    }
    if ((await sha256File(file)) !== entry.sha256) problems.push(`${entry.name}: content changed (sha256 differs from the manifest)`);
  }
  if (manifest.kind === "full" && manifest.artifact.endsWith(".dir")) {
    const listed = new Set(manifest.files.map((f) => f.name));
    const present = await readdir(path.join(targetDir, manifest.artifact)).catch(() => [] as string[]);
    for (const name of present)
      if (!listed.has(`${manifest.artifact}/${name}`)) problems.push(`${manifest.artifact}/${name}: not in the manifest (extra file)`);
  }
  return problems.length ? { ok: false, problems } : { ok: true };
}
