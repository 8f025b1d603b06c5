import { chmod, chown, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { RestoreRefusedError, UntrustedDataError } from "../errors";
import { handToClusterUser, isRoot } from "../cluster/os-user";
import {
  backupTimestamp,
  isArtifactName,
  isTargetName,
  KIND_LABELS,
  TARGET_NAME_RULE,
  kindOfFileName,
  manifestFileName,
  type ArtifactKind,
} from "./artifact-kinds";
import { commitDirectory, commitFile, ensureDir, FILE_MODE, removeStaleTemps, replaceFile, tempPath } from "./files";
import { describeFile, describeFolder, parseManifest, verifyAgainstManifest, type Manifest, type ManifestFileEntry, type VerifyResult } from "./manifest";
import { resolveArtifactPath, UnsafePathError } from "./paths";
import { restoreKitText } from "./restore-kit";

export type ListedArtifact = {
  manifest: Manifest;
  manifestFile: string;
  /** With an off-site copy: where the artifact is held (a plain local repository leaves it out). */
  location?: "local" | "offsite" | "both" | undefined;
};

/** A check of an artifact after it was written: a restore drill's result. */
export type Verification = { tool: string; at: string; ok: boolean; durationMs?: number | undefined; detail?: string | undefined };

export type RepositoryListing = {
  /** Every artifact with a readable, well-formed manifest, newest first. */
  artifacts: ListedArtifact[];
  /** Manifests that could not be read or were refused, with the reason. */
  unreadable: { file: string; reason: string }[];
};

/** An artifact being written: bytes go to `tempPath`; `commit()` moves them into place, `discard()` removes them. */
export type StagedArtifact = {
  fileName: string;
  tempPath: string;
  commit: () => Promise<ManifestFileEntry[]>;
  discard: () => Promise<void>;
};

/**
 * Where a target's backups live. The repository is the source of truth: listing reads manifests,
 * a restore starts with `checkForRestore`, and a backup is staged, committed, then described by
 * its manifest, written last (the commit marker: an artifact without one is never listed).
 * This is the local-folder implementation; an object-storage one will implement the same methods.
 */
export interface Repository {
  readonly targetName: string;
  /** For people: where the backups are. */
  readonly description: string;
  /** The local folder artifacts are staged in and read from. */
  readonly dir: string;
  readonly archiveDir: string;
  readonly baseDir: string;
  /** Where WAL streaming (npm run wal:stream) writes the newest segment as it is written. */
  readonly streamDir: string;
  prepare(): Promise<void>;
  prepareArchive(): Promise<void>;
  list(): Promise<RepositoryListing>;
  readManifest(artifact: string): Promise<Manifest>;
  verify(manifest: Manifest): Promise<VerifyResult>;
  checkForRestore(fileName: string, kind: ArtifactKind): Promise<{ path: string; manifest: Manifest }>;
  uniqueTimestamp(date: Date): Promise<string>;
  stage(fileName: string, options?: { directory?: boolean }): Promise<StagedArtifact>;
  writeManifest(manifest: Manifest): Promise<string>;
  removeStaleTemps(): Promise<string[]>;
  /** Remove a committed artifact: its manifest first (it is no longer listed), then its files. */
  discard(artifact: string): Promise<void>;
  /** Record a check of an artifact (a restore drill) beside it, replacing the previous one. */
  recordVerification(artifact: string, verification: Verification): Promise<void>;
  /** The last recorded check of an artifact, if any. */
  readVerification(artifact: string): Promise<Verification | undefined>;
  writeRestoreKit(): Promise<void>;
}

export class LocalRepository implements Repository {
  readonly dir: string;

  constructor(
    readonly backupRoot: string,
    readonly targetName: string,
    private readonly options: { archiveDir?: string | undefined } = {},
  ) {
    if (!isTargetName(targetName)) throw new UntrustedDataError(`Not a valid target name: ${JSON.stringify(targetName)} (${TARGET_NAME_RULE})`);
    this.dir = path.join(path.resolve(backupRoot), targetName);
  }

  get description(): string {
    return `local folder ${this.dir}`;
  }
  /** backups/<target>/archive, unless the WAL archive of this target lives elsewhere. */
  get archiveDir(): string {
    return this.options.archiveDir ?? path.join(this.dir, "archive");
  }
  get baseDir(): string {
    return path.join(this.dir, "base");
  }
  get streamDir(): string {
    return path.join(this.dir, "stream");
  }

  async prepare(): Promise<void> {
    await ensureDir(path.resolve(this.backupRoot));
    await ensureDir(this.dir);
    await ensureDir(this.baseDir);
  }

  /**
   * The archive is the one folder the cluster's OS user writes (archive_command). The rest of the
   * repository stays Lifeboat's own: a database superuser (COPY … TO PROGRAM runs as that user)
   * can neither delete nor forge backups. Its parents keep only a traverse bit for others.
   */
  async prepareArchive(): Promise<void> {
    await this.prepare();
    await ensureDir(this.archiveDir);
    if (!isRoot()) return;
    for (const dir of [path.resolve(this.backupRoot), this.dir]) {
      // Older quickstarts handed these to the cluster's user: take them back.
      await chown(dir, process.getuid!(), process.getgid!());
      await chmod(dir, 0o711);
    }
    await handToClusterUser(this.archiveDir);
  }

  async list(): Promise<RepositoryListing> {
    const top = await readdir(this.dir).catch(() => [] as string[]);
    const base = (await readdir(this.baseDir).catch(() => [] as string[])).map((n) => `base/${n}`);
    const manifests = [...top, ...base].filter((n) => n.endsWith(".manifest.json") && !path.basename(n).startsWith("."));
    const artifacts: ListedArtifact[] = [];
    const unreadable: RepositoryListing["unreadable"] = [];
    for (const manifestFile of manifests) {
      const artifact = manifestFile.slice(0, -".manifest.json".length);
      try {
        artifacts.push({ manifest: await this.readManifest(artifact), manifestFile });
      } catch (error) {
        unreadable.push({ file: manifestFile, reason: (error as Error).message });
      }
    }
    artifacts.sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt) || a.manifest.kind.localeCompare(b.manifest.kind));
    return { artifacts, unreadable };
  }

  async readManifest(artifact: string): Promise<Manifest> {
    const kind = kindOfFileName(artifact);
    if (!kind) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
    let text: string;
    try {
      text = await readFile(path.join(this.dir, manifestFileName(artifact)), "utf8");
    } catch {
      throw new RestoreRefusedError(`${artifact} has no manifest (${manifestFileName(artifact)}); it may be incomplete or not a Lifeboat backup.`);
    }
    return parseTargetManifest(text, artifact, this.targetName);
  }

  verify(manifest: Manifest): Promise<VerifyResult> {
    return verifyAgainstManifest(this.dir, manifest);
  }

  /**
   * Before any restore: resolve the user's file name inside the repository ("latest" means the
   * newest of that kind), read its manifest, check it is the kind this restore expects, and verify
   * every file's size and sha256. Nothing is restored from an artifact that fails any of these.
   */
  async checkForRestore(fileName: string, kind: ArtifactKind): Promise<{ path: string; manifest: Manifest }> {
    let name = fileName;
    if (fileName === "latest") {
      const newest = (await this.list()).artifacts.find((a) => a.manifest.kind === kind);
      if (!newest) throw new RestoreRefusedError(`There is no ${KIND_LABELS[kind].replace(/^an? /, "")} of ${this.targetName} yet (npm run backup:list).`);
      name = newest.manifest.artifact;
    }
    refuseBaseBackupByName(name, kind);
    let file: string;
    try {
      file = await resolveArtifactPath(this.dir, name);
    } catch (error) {
      if (error instanceof UnsafePathError && /no such backup|no backups/.test(error.message)) {
        const suggestions = await this.similarNames(path.basename(name), kind);
        const hint = suggestions.length ? ` Did you mean ${suggestions.join(" or ")}?` : "";
        throw new UnsafePathError(name, `there is no such backup of ${this.targetName}.${hint} (npm run backup:list shows them all)`, { suggestions });
      }
      throw error;
    }
    const artifact = path.basename(file);
    const manifest = await this.readManifest(artifact);
    if (manifest.kind !== kind)
      throw new RestoreRefusedError(`${artifact} is ${KIND_LABELS[manifest.kind]}, not ${KIND_LABELS[kind]} (use the matching restore command).`);
    const verified = await this.verify(manifest);
    if (!verified.ok) throw new RestoreRefusedError(`${artifact} is damaged and was not restored: ${verified.problems.join("; ")}`);
    return { path: file, manifest };
  }

  private async similarNames(name: string, kind: ArtifactKind): Promise<string[]> {
    const names = (await this.list()).artifacts.filter((a) => a.manifest.kind === kind).map((a) => a.manifest.artifact);
    return names
      .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
      .filter((c) => c.distance <= Math.max(3, Math.floor(name.length / 4)))
      .sort((a, b) => a.distance - b.distance)
      .slice(0, 3)
      .map((c) => c.candidate);
  }

  /**
   * A timestamp no artifact of this target uses yet: two backup sets in one second would otherwise
   * share names. Later seconds keep the seed's name format.
   */
  async uniqueTimestamp(date: Date): Promise<string> {
    const taken = new Set([...(await readdir(this.dir).catch(() => [] as string[])), ...(await readdir(this.baseDir).catch(() => [] as string[]))]);
    const used = (timestamp: string) => [...taken].some((n) => n.includes(timestamp));
    let instant = date.getTime();
    while (used(backupTimestamp(new Date(instant)))) instant += 1000;
    return backupTimestamp(new Date(instant));
  }

  async stage(fileName: string, options: { directory?: boolean } = {}): Promise<StagedArtifact> {
    if (!kindOfFileName(fileName)) throw new UntrustedDataError(`${JSON.stringify(fileName)} is not the name of a Lifeboat artifact.`);
    const final = path.join(this.dir, fileName);
    const temp = tempPath(path.dirname(final), path.basename(final));
    let committed = false;
    return {
      fileName,
      tempPath: temp,
      commit: async () => {
        if (options.directory) await commitDirectory(temp, final);
        else await commitFile(temp, final);
        committed = true;
        return options.directory ? describeFolder(this.dir, fileName) : [await describeFile(this.dir, fileName)];
      },
      discard: async () => {
        await rm(temp, { recursive: true, force: true });
        if (committed) await rm(final, { recursive: true, force: true });
      },
    };
  }

  /** Write the manifest beside its artifact, atomically and never over another: the commit marker. */
  async writeManifest(manifest: Manifest): Promise<string> {
    const name = manifestFileName(manifest.artifact);
    const final = path.join(this.dir, name);
    const temp = tempPath(path.dirname(final), path.basename(final));
    try {
      await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: FILE_MODE, flag: "wx" });
      await commitFile(temp, final);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return name;
  }

  /** Remove what an interrupted backup left under temporary names (call only while holding the target's lock). */
  async removeStaleTemps(): Promise<string[]> {
    return [...(await removeStaleTemps(this.dir)), ...(await removeStaleTemps(this.baseDir)).map((n) => `base/${n}`)];
  }

  async discard(artifact: string): Promise<void> {
    if (!kindOfFileName(artifact)) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
    await rm(path.join(this.dir, manifestFileName(artifact)), { force: true });
    await rm(path.join(this.dir, artifact), { recursive: true, force: true });
    await rm(path.join(this.dir, `${artifact}.verification.json`), { force: true });
  }

  async recordVerification(artifact: string, verification: Verification): Promise<void> {
    if (!kindOfFileName(artifact)) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
    await replaceFile(path.join(this.dir, `${artifact}.verification.json`), `${JSON.stringify(verification, null, 2)}\n`);
  }

  async readVerification(artifact: string): Promise<Verification | undefined> {
    if (!kindOfFileName(artifact)) return undefined;
    const text = await readFile(path.join(this.dir, `${artifact}.verification.json`), "utf8").catch(() => undefined);
    if (!text) return undefined;
    try {
      const value = JSON.parse(text) as Partial<Verification>;
      if (typeof value.tool !== "string" || typeof value.at !== "string" || typeof value.ok !== "boolean") return undefined;
      return {
        tool: value.tool,
        at: value.at,
        ok: value.ok,
        durationMs: typeof value.durationMs === "number" ? value.durationMs : undefined,
        detail: typeof value.detail === "string" ? value.detail : undefined,
      };
    } catch {
      return undefined;
    }
  }

  /** RESTORE.md: how to check and restore each kind of artifact without Lifeboat. */
  writeRestoreKit(): Promise<void> {
    return replaceFile(path.join(this.dir, "RESTORE.md"), restoreKitText(this.targetName));
  }
}

/**
 * A manifest's text read back as untrusted input (from a folder or a bucket): well formed, the kind
 * its artifact's name says, and this target's.
 */
export function parseTargetManifest(text: string, artifact: string, targetName: string): Manifest {
  const kind = kindOfFileName(artifact);
  if (!kind) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
  const manifest = parseManifest(text, artifact);
  if (manifest.kind !== kind)
    throw new UntrustedDataError(`The manifest of ${artifact} says it is ${KIND_LABELS[manifest.kind]}, but its name is that of ${KIND_LABELS[kind]}.`);
  if (manifest.target !== targetName)
    throw new UntrustedDataError(`The manifest of ${artifact} belongs to target ${JSON.stringify(manifest.target)}, not ${targetName}.`);
  return manifest;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * Base backups are never restored by file name: a PITR (npm run restore pitr) lays down the one its
 * recovery target needs. Say so, rather than refusing base/<time> as a path outside the folder.
 */
export function refuseBaseBackupByName(name: string, kind: ArtifactKind): void {
  if (kind === "base")
    throw new RestoreRefusedError(
      "Base backups are not restored by file name: npm run restore pitr <when|latest> chooses the base backup for that moment (npm run restore pitr -- --window shows what can be recovered).",
    );
  if (isArtifactName("base", name))
    throw new RestoreRefusedError(
      `${name} is ${KIND_LABELS.base}, not ${KIND_LABELS[kind]}: base backups are restored with npm run restore pitr <when|latest>, which chooses the one for that moment.`,
    );
}
