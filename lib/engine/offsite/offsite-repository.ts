import { lstat, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { RestoreRefusedError, UntrustedDataError } from "../errors";
import { isArtifactName, kindOfFileName, KIND_LABELS, manifestFileName, type ArtifactKind } from "../repository/artifact-kinds";
import type { Manifest, VerifyResult } from "../repository/manifest";
import { isConfinedRelativeName } from "../repository/paths";
import { LocalRepository, parseTargetManifest, refuseBaseBackupByName, type ListedArtifact, type RepositoryListing } from "../repository/repository";
import { localRetentionSide, type RetentionSide } from "../retention/plan-retention";
import { ObjectStoreError, type ObjectStore } from "./object-store";

/** Where an artifact is held: the local folder, the object storage, or both. */
export type ArtifactLocation = "local" | "offsite" | "both";

/** A file of the WAL archive is one of these (segments plain or compressed/encrypted, histories, backup labels). */
const ARCHIVE_FILE = /^[0-9A-F]{8}(?:[0-9A-F]{16}(?:\.[0-9A-F]{8}\.backup|\.partial)?|\.history)(?:\.zst)?(?:\.age)?$/;

export type WalShipResult = {
  shipped: string[];
  /** Archived locally, not yet in the bucket (after this round: what failed or arrived meanwhile). */
  pending: number;
};

/**
 * What the bucket's own retention removed (`<target>/.retired.json`): those backups and the WAL
 * before `walKeptFrom` are never sent again by a push or the WAL shipper, and the local folder no
 * longer keeps them for the bucket's sake.
 */
export type RetiredRecord = { artifacts: Set<string>; walKeptFrom: string | null };

const RETIRED_FILE = ".retired.json";
/** The record keeps the newest this many names (older ones have long left every local folder too). */
const RETIRED_KEEP = 20_000;
const SEGMENT_NAME = /^[0-9A-F]{24}$/;

/** Whether an archive file lies before `walKeptFrom` (by position, on any timeline; history files never do). */
function retiredWal(name: string, walKeptFrom: string | null): boolean {
  if (!walKeptFrom || name.endsWith(".history")) return false;
  return name.slice(8, 24) < walKeptFrom.slice(8, 24);
}

export type OffsiteLag = {
  /** Archive files not yet in the bucket. */
  pendingFiles: number;
  /** Seconds since the oldest of them was archived locally (0: nothing waits). */
  lagSeconds: number;
  /** The newest archive file already in the bucket. */
  newestShipped: string | null;
};

/**
 * A target's off-site copy in object storage, laid out as the local folder is
 * (`<prefix>/<target>/<artifact>`, `…/base/<artifact>/…`, `…/archive/<segment>`), so the bucket
 * alone is a complete repository. Each artifact's files go first and its manifest last: the
 * manifest is the commit marker, and an artifact without one is never listed. Manifests and
 * objects read back are untrusted: names are checked, and every byte downloaded is hashed against
 * the manifest before anything uses it.
 */
/**
 * An encrypted off-site repository: every file is encrypted (age) on its way to the bucket unless
 * it already is (an .age artifact or segment), and decrypted with the identities on its way back.
 */
export type OffsiteEncryption = {
  recipients: string[];
  /** Read only when something encrypted is downloaded (a restore, a PITR, a deep check). */
  identities: () => Promise<string[]>;
};

export class OffsiteRepository {
  constructor(
    readonly store: ObjectStore,
    readonly targetName: string,
    readonly encryption?: OffsiteEncryption | undefined,
  ) {}

  get description(): string {
    return this.store.describe(this.targetName);
  }

  /** The recipients a local file is encrypted to on upload: none when the repository is not encrypted or the file already is. */
  private recipientsFor(file: string): string[] | undefined {
    return this.encryption && !file.endsWith(".age") ? this.encryption.recipients : undefined;
  }

  private async identities(): Promise<string[] | undefined> {
    return this.encryption ? await this.encryption.identities() : undefined;
  }

  private name(relative: string): string {
    return `${this.targetName}/${relative}`;
  }

  async list(): Promise<RepositoryListing> {
    const objects = [...(await this.store.list(this.targetName, { shallow: true })), ...(await this.store.list(this.name("base"), { shallow: true }))];
    const artifacts: ListedArtifact[] = [];
    const unreadable: RepositoryListing["unreadable"] = [];
    for (const object of objects) {
      const manifestFile = object.name.slice(this.targetName.length + 1);
      if (!manifestFile.endsWith(".manifest.json") || path.basename(manifestFile).startsWith(".")) continue;
      const artifact = manifestFile.slice(0, -".manifest.json".length);
      try {
        artifacts.push({ manifest: await this.readManifest(artifact), manifestFile });
      } catch (error) {
        unreadable.push({ file: this.store.describe(`${this.targetName}/${manifestFile}`), reason: (error as Error).message });
      }
    }
    artifacts.sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt) || a.manifest.kind.localeCompare(b.manifest.kind));
    return { artifacts, unreadable };
  }

  async readManifest(artifact: string): Promise<Manifest> {
    if (!kindOfFileName(artifact)) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
    const text = await this.store.getText(this.name(manifestFileName(artifact)));
    return parseTargetManifest(text, artifact, this.targetName);
  }

  /** The artifacts whose manifest is in the bucket (names only: one listing, no manifest read). */
  async artifactNames(): Promise<Set<string>> {
    const objects = [...(await this.store.list(this.targetName, { shallow: true })), ...(await this.store.list(this.name("base"), { shallow: true }))];
    const names = new Set<string>();
    for (const object of objects) {
      const file = object.name.slice(this.targetName.length + 1);
      if (file.endsWith(".manifest.json") && !path.basename(file).startsWith(".")) names.add(file.slice(0, -".manifest.json".length));
    }
    return names;
  }

  async retired(): Promise<RetiredRecord> {
    const name = this.name(RETIRED_FILE);
    if (!(await this.store.head(name))) return { artifacts: new Set(), walKeptFrom: null };
    let parsed: { artifacts?: unknown; walKeptFrom?: unknown } = {};
    try {
      parsed = (JSON.parse(await this.store.getText(name)) ?? {}) as typeof parsed;
    } catch (error) {
      throw new UntrustedDataError(`${this.store.describe(name)} cannot be read (${(error as Error).message}); remove it to send everything again.`);
    }
    const artifacts = Array.isArray(parsed.artifacts) ? parsed.artifacts.filter((a): a is string => typeof a === "string" && isLifeboatArtifact(a)) : [];
    const walKeptFrom = typeof parsed.walKeptFrom === "string" && SEGMENT_NAME.test(parsed.walKeptFrom) ? parsed.walKeptFrom : null;
    return { artifacts: new Set(artifacts), walKeptFrom };
  }

  private async recordRetired(applied: { artifacts: string[]; walKeptFrom: string | null }): Promise<void> {
    const current = await this.retired();
    const artifacts = [...new Set([...current.artifacts, ...applied.artifacts])].slice(-RETIRED_KEEP);
    const walKeptFrom =
      [current.walKeptFrom, applied.walKeptFrom]
        .filter((w): w is string => w !== null)
        .sort((a, b) => a.slice(8).localeCompare(b.slice(8)))
        .at(-1) ?? null;
    await this.store.putText(this.name(RETIRED_FILE), `${JSON.stringify({ artifacts, walKeptFrom }, null, 2)}\n`);
  }

  async has(artifact: string): Promise<boolean> {
    return kindOfFileName(artifact) !== undefined && (await this.store.head(this.name(manifestFileName(artifact)))) !== undefined;
  }

  /**
   * Copy a committed local artifact to the bucket: every file (streamed, each checked against the
   * manifest's sha256 as it is sent), then the manifest. An artifact whose manifest is already
   * there is not sent again ("already"). An upload cut halfway leaves objects without a manifest:
   * never listed, and replaced by the next push.
   */
  async push(local: LocalRepository, manifest: Manifest, options: { signal?: AbortSignal | undefined } = {}): Promise<"pushed" | "already"> {
    if (await this.has(manifest.artifact)) return "already";
    const pinned = new Map(manifest.files.map((f) => [f.name, f.sha256]));
    const folder = path.join(local.dir, manifest.artifact);
    if ((await lstat(folder)).isDirectory()) {
      // A plain base backup: Lifeboat's manifest pins backup_manifest, which pins every other file
      // (pg_verifybackup checks them before any restore). Every file goes, and the folder layout
      // (PostgreSQL needs its empty folders) beside the artifact, outside it.
      const { files, dirs } = await walkFolder(folder);
      for (const relative of files) {
        options.signal?.throwIfAborted();
        const name = `${manifest.artifact}/${relative}`;
        await this.store.putFile(this.name(name), path.join(local.dir, name), {
          expectSha256: pinned.get(name),
          signal: options.signal,
          recipients: this.recipientsFor(name),
        });
      }
      await this.store.putText(this.name(layoutName(manifest.artifact)), `${JSON.stringify({ dirs, files })}\n`);
    } else {
      for (const file of manifest.files) {
        options.signal?.throwIfAborted();
        await this.store.putFile(this.name(file.name), path.join(local.dir, file.name), {
          expectSha256: file.sha256,
          signal: options.signal,
          recipients: this.recipientsFor(file.name),
        });
      }
    }
    const text = await readFile(path.join(local.dir, manifestFileName(manifest.artifact)), "utf8");
    await this.store.putText(this.name(manifestFileName(manifest.artifact)), text);
    return "pushed";
  }

  /**
   * Bring an artifact from the bucket into the local folder: each file downloaded under a
   * temporary name and hashed against the manifest (an altered object is refused before any
   * restore touches a database), committed, and the manifest written last, as a backup is.
   */
  async fetch(local: LocalRepository, artifact: string): Promise<Manifest> {
    const manifest = await this.readManifest(artifact);
    const identities = await this.identities();
    const directory = manifest.files.some((f) => f.name !== artifact);
    await local.prepare();
    const staged = await local.stage(artifact, { directory });
    try {
      if (directory) {
        await mkdir(staged.tempPath, { recursive: true, mode: 0o700 });
        const layout = await this.readLayout(artifact);
        for (const dir of layout.dirs) await mkdir(path.join(staged.tempPath, dir), { recursive: true, mode: 0o700 });
        const pinned = new Map(manifest.files.map((f) => [f.name, f]));
        for (const relative of layout.files) {
          const name = `${artifact}/${relative}`;
          const dest = path.join(staged.tempPath, relative);
          await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
          // Pinned files against the manifest; the others against the sha256 recorded at upload (and pg_verifybackup later).
          await this.store.getFile(this.name(name), dest, { sha256: pinned.get(name)?.sha256, size: pinned.get(name)?.size, identities });
        }
        for (const file of manifest.files)
          if (!layout.files.includes(file.name.slice(artifact.length + 1)))
            throw new RestoreRefusedError(`${file.name} is not in the bucket's copy of ${artifact}.`);
      } else {
        await this.store.getFile(this.name(artifact), staged.tempPath, { sha256: manifest.files[0]!.sha256, size: manifest.files[0]!.size, identities });
      }
      await staged.commit();
      await local.writeManifest(manifest);
    } catch (error) {
      await staged.discard();
      throw error instanceof ObjectStoreError ? new RestoreRefusedError(`${artifact} could not be fetched from ${this.description}: ${error.message}`) : error;
    }
    return manifest;
  }

  /** A folder artifact's files and folders as pushed (names relative to the artifact; untrusted: each is checked). */
  private async readLayout(artifact: string): Promise<{ dirs: string[]; files: string[] }> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await this.store.getText(this.name(layoutName(artifact))));
    } catch (error) {
      throw new RestoreRefusedError(
        `The bucket's copy of ${artifact} has no readable file list (${(error as Error).message}); push it again from a host that has it.`,
      );
    }
    const { dirs, files } = (parsed ?? {}) as { dirs?: unknown; files?: unknown };
    const names = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
    const safe = (n: string) => isConfinedRelativeName(n);
    const result = { dirs: names(dirs), files: names(files) };
    if (![...result.dirs, ...result.files].every(safe)) throw new UntrustedDataError(`The bucket's file list of ${artifact} names a path outside it; refused.`);
    return result;
  }

  /** Remove an artifact from the bucket: its manifest first (it is no longer listed), then its files. Idempotent. */
  async discard(artifact: string): Promise<void> {
    if (!kindOfFileName(artifact)) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
    await this.store.remove([this.name(manifestFileName(artifact))]);
    const objects = await this.store.list(this.name(artifact));
    await this.store.remove([...objects.map((o) => o.name), this.name(artifact), this.name(layoutName(artifact))]);
  }

  /**
   * The bucket's copy as retention sees it: its own listing, checks and WAL, so it keeps its own
   * retention (drills recorded in the local folder still count for an artifact both hold).
   */
  retentionSide(local: LocalRepository): RetentionSide {
    const archive = (name: string) => this.name(`archive/${name}`);
    return {
      targetName: this.targetName,
      description: this.description,
      list: () => this.list(),
      verify: (manifest) => this.verify(manifest),
      readVerification: (artifact) => local.readVerification(artifact),
      holds: async (artifact) =>
        kindOfFileName(artifact) !== undefined &&
        ((await this.has(artifact)) || (await this.store.head(this.name(artifact))) !== undefined || (await this.store.list(this.name(artifact))).length > 0),
      discard: (artifact) => this.discard(artifact),
      recordApplied: (applied) => this.recordRetired(applied),
      walFiles: async () => {
        const prefix = this.name("archive/");
        return (await this.store.list(this.name("archive")))
          .map((o) => ({ name: o.name.slice(prefix.length), sizeBytes: o.size }))
          .filter((f) => ARCHIVE_FILE.test(f.name));
      },
      removeWal: async (name) => {
        if (!ARCHIVE_FILE.test(name)) throw new UntrustedDataError(`${JSON.stringify(name)} is not a WAL archive file.`);
        if (!(await this.store.head(archive(name)))) return false;
        await this.store.remove([archive(name)]);
        return true;
      },
    };
  }

  /** Each of the manifest's objects present with its size and the sha256 recorded when it was uploaded (no download). */
  async verify(manifest: Manifest): Promise<VerifyResult> {
    const problems: string[] = [];
    // A folder artifact is only restorable with its file list (and every file in it).
    if (manifest.files.some((f) => f.name !== manifest.artifact)) {
      const layout = await this.readLayout(manifest.artifact).catch(() => undefined);
      if (!layout) problems.push(`${layoutName(manifest.artifact)} is missing from the bucket`);
      else {
        const present = new Set(
          (await this.store.list(this.name(manifest.artifact))).map((o) => o.name.slice(this.targetName.length + manifest.artifact.length + 2)),
        );
        const missing = layout.files.filter((f) => !present.has(f));
        if (missing.length) problems.push(`${missing.length} file(s) of ${manifest.artifact} are missing from the bucket (${missing.slice(0, 3).join(", ")})`);
      }
    }
    for (const file of manifest.files) {
      const head = await this.store.head(this.name(file.name));
      if (!head) problems.push(`${file.name} is missing from the bucket`);
      else if (head.size !== file.size) problems.push(`${file.name} is ${head.size} bytes in the bucket, the manifest says ${file.size}`);
      else if (head.sha256 !== file.sha256) problems.push(`${file.name} was recorded in the bucket with another sha256 than the manifest's`);
    }
    return problems.length ? { ok: false, problems } : { ok: true };
  }

  /** Names of the WAL archive's files in the bucket. */
  async archivedNames(): Promise<Set<string>> {
    const prefix = this.name("archive/");
    return new Set((await this.store.list(this.name("archive"))).map((o) => o.name.slice(prefix.length)).filter((n) => ARCHIVE_FILE.test(n)));
  }

  /**
   * Ship the local WAL archive's new files to the bucket, oldest first, each hashed as sent and
   * recorded with its sha256. PostgreSQL never waits for this: archive_command stays local and
   * fast, and a worker ships behind it (as pgBackRest's asynchronous archive-push does).
   */
  async shipWal(archiveDir: string, options: { signal?: AbortSignal | undefined; limit?: number | undefined } = {}): Promise<WalShipResult> {
    const { waiting } = await this.unshippedWal(archiveDir);
    const shipped: string[] = [];
    for (const name of waiting.slice(0, options.limit ?? waiting.length)) {
      options.signal?.throwIfAborted();
      await this.store.putFile(this.name(`archive/${name}`), path.join(archiveDir, name), { signal: options.signal, recipients: this.recipientsFor(name) });
      shipped.push(name);
    }
    return { shipped, pending: waiting.length - shipped.length };
  }

  /**
   * The local archive's files the bucket still lacks, oldest first (not those before what the
   * bucket's own retention removed: they are never sent again), and what the bucket holds.
   */
  async unshippedWal(archiveDir: string): Promise<{ waiting: string[]; present: Set<string> }> {
    const present = await this.archivedNames();
    const { walKeptFrom } = await this.retired();
    return { waiting: (await localArchiveFiles(archiveDir)).filter((n) => !present.has(n) && !retiredWal(n, walKeptFrom)), present };
  }

  /** How far the bucket's WAL is behind the local archive. */
  async walLag(archiveDir: string, now = new Date()): Promise<OffsiteLag> {
    const { waiting, present } = await this.unshippedWal(archiveDir);
    let oldest = now.getTime();
    for (const name of waiting) {
      const stats = await lstat(path.join(archiveDir, name)).catch(() => undefined);
      if (stats) oldest = Math.min(oldest, stats.mtimeMs);
    }
    const shippedNames = [...present].filter((n) => !n.endsWith(".history")).sort();
    return {
      pendingFiles: waiting.length,
      lagSeconds: waiting.length ? Math.max(0, Math.round((now.getTime() - oldest) / 1000)) : 0,
      newestShipped: shippedNames.at(-1) ?? null,
    };
  }

  /**
   * Copy into the local archive every WAL file the bucket holds and it lacks, `concurrency` at a
   * time, each checked against the sha256 recorded when it was shipped: a PITR on a host whose
   * archive is empty (a new host, a lost disk) replays from the bucket without a round trip per
   * segment during recovery.
   */
  async fetchWal(
    archiveDir: string,
    options: { concurrency?: number | undefined; /** The first segment needed (the oldest base backup's start). */ from?: string | undefined } = {},
  ): Promise<string[]> {
    const local = new Set(await localArchiveFiles(archiveDir));
    // Segments (and backup labels, partials) from `from`'s position on, whatever their timeline; every history file.
    const position = (name: string) => name.slice(8, 24);
    const names = [...(await this.archivedNames())]
      .filter((n) => !local.has(n) && (!options.from || n.endsWith(".history") || position(n) >= position(options.from)))
      .sort();
    await mkdir(archiveDir, { recursive: true, mode: 0o700 });
    const identities = names.length ? await this.identities() : undefined;
    const queue = [...names];
    const worker = async () => {
      for (let name = queue.shift(); name; name = queue.shift())
        await this.store.getFile(this.name(`archive/${name}`), path.join(archiveDir, name), { identities });
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, names.length) }, worker));
    return names;
  }

  /**
   * Every manifest's objects present with the size and sha256 it lists (`deep`: downloaded and
   * hashed, not just compared with what was recorded at upload).
   */
  async check(options: { deep?: boolean | undefined; scratchDir?: string | undefined } = {}): Promise<{ artifacts: number; problems: string[] }> {
    const { artifacts, unreadable } = await this.list();
    const problems = unreadable.map((u) => `${u.file}: ${u.reason}`);
    const identities = options.deep ? await this.identities() : undefined;
    for (const { manifest } of artifacts) {
      const shallow = await this.verify(manifest);
      if (!shallow.ok) {
        problems.push(...shallow.problems.map((p) => `${manifest.artifact}: ${p}`));
        continue;
      }
      if (!options.deep || !options.scratchDir) continue;
      for (const file of manifest.files) {
        const scratch = path.join(options.scratchDir, `.check-${process.pid}`);
        try {
          await this.store.getFile(this.name(file.name), scratch, { sha256: file.sha256, size: file.size, identities });
        } catch (error) {
          problems.push(`${manifest.artifact}: ${(error as Error).message}`);
        } finally {
          await rm(scratch, { force: true });
        }
      }
    }
    return { artifacts: artifacts.length, problems };
  }
}

/** Beside a folder artifact in the bucket (never inside it: pg_verifybackup refuses extra files): its files and folders. */
function layoutName(artifact: string): string {
  return `${artifact}.layout.json`;
}

/** Every file and folder below `root`, relative to it, sorted. */
async function walkFolder(root: string): Promise<{ files: string[]; dirs: string[] }> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const relative = (e: { parentPath: string; name: string }) => path.relative(root, path.join(e.parentPath, e.name));
  return {
    files: entries
      .filter((e) => e.isFile())
      .map(relative)
      .sort(),
    dirs: entries
      .filter((e) => e.isDirectory())
      .map(relative)
      .sort(),
  };
}

function isLifeboatArtifact(name: string): boolean {
  const kind = kindOfFileName(name);
  return kind !== undefined && isArtifactName(kind, name);
}

/** The local archive's files in the order PostgreSQL wrote them (hex names sort by timeline, then position). */
export async function localArchiveFiles(archiveDir: string): Promise<string[]> {
  return (await readdir(archiveDir).catch(() => [] as string[])).filter((n) => ARCHIVE_FILE.test(n)).sort();
}

/**
 * A target's repository when it also has an off-site copy: the local folder stays the working
 * copy (backups are written there, restores read from there), listing shows what either holds and
 * where, and an artifact only the bucket holds is fetched (and verified) on first use. With
 * `keepLocal: false` (object storage only) the local copy is removed once it is off-site.
 */
export class MirroredRepository extends LocalRepository {
  constructor(
    backupRoot: string,
    targetName: string,
    readonly offsite: OffsiteRepository,
    readonly keepLocal: boolean,
    private readonly mirror: { archiveDir?: string | undefined; listing?: "all" | "local" | "offsite" } = {},
  ) {
    super(backupRoot, targetName, mirror);
  }

  /** The same repository, listing only one side (npm run backup:list -- --repository offsite). */
  listing(which: "all" | "local" | "offsite"): MirroredRepository {
    return new MirroredRepository(this.backupRoot, this.targetName, this.offsite, this.keepLocal, { ...this.mirror, listing: which });
  }

  override get description(): string {
    return this.keepLocal ? `local folder ${this.dir} and ${this.offsite.description}` : `${this.offsite.description} (staged in ${this.dir})`;
  }

  /** What the local folder holds, alone. */
  listLocal(): Promise<RepositoryListing> {
    return super.list();
  }

  /** Local and off-site artifacts together, each with where it is; an unreachable bucket is reported, not fatal. */
  override async list(): Promise<RepositoryListing> {
    if (this.mirror.listing === "offsite") {
      const remote = await this.offsite.list();
      return { ...remote, artifacts: remote.artifacts.map((a) => ({ ...a, location: "offsite" })) };
    }
    const local = await super.list();
    if (this.mirror.listing === "local") return { ...local, artifacts: local.artifacts.map((a) => ({ ...a, location: "local" })) };
    let remote: RepositoryListing;
    try {
      remote = await this.offsite.list();
    } catch (error) {
      return {
        artifacts: local.artifacts.map((a) => ({ ...a, location: "local" })),
        unreadable: [...local.unreadable, { file: this.offsite.description, reason: (error as Error).message }],
      };
    }
    const offsite = new Set(remote.artifacts.map((a) => a.manifest.artifact));
    const localNames = new Set(local.artifacts.map((a) => a.manifest.artifact));
    const artifacts: ListedArtifact[] = [
      ...local.artifacts.map((a) => ({ ...a, location: (offsite.has(a.manifest.artifact) ? "both" : "local") as ArtifactLocation })),
      ...remote.artifacts.filter((a) => !localNames.has(a.manifest.artifact)).map((a) => ({ ...a, location: "offsite" as ArtifactLocation })),
    ];
    artifacts.sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt) || a.manifest.kind.localeCompare(b.manifest.kind));
    return { artifacts, unreadable: [...local.unreadable, ...remote.unreadable] };
  }

  /** Remove an artifact from both copies (the manifest first on each side). Retention works on each copy apart: `retentionSides`. */
  override async discard(artifact: string): Promise<void> {
    await super.discard(artifact);
    await this.offsite.discard(artifact);
  }

  /**
   * The two copies as retention sees them, each planned with its own days. The local folder keeps
   * whatever the bucket does not hold yet (an artifact whose upload failed, WAL not shipped yet):
   * a copy that keeps failing never costs the only one.
   */
  async retentionSides(): Promise<{ local: RetentionSide; offsite: RetentionSide }> {
    const local = await this.listLocal();
    const pending = await this.notOffsiteYet(local);
    return {
      local: localRetentionSide(this, {
        list: async () => local,
        discard: (artifact) => LocalRepository.prototype.discard.call(this, artifact),
        protect: {
          artifacts: new Set(pending.artifacts.map((m) => m.artifact)),
          wal: new Set(pending.wal),
          why: `it is not in ${this.offsite.description} yet`,
        },
      }),
      offsite: this.offsite.retentionSide(this),
    };
  }

  /**
   * What the local folder holds and the bucket does not yet: backups (oldest first) and WAL files.
   * One listing of the bucket's manifests and one of its archive. What the bucket's own retention
   * removed is not waiting for it. Retention protects these, the health check names them, and the
   * next backup sends them.
   */
  async notOffsiteYet(local?: RepositoryListing): Promise<{ artifacts: Manifest[]; sendable: Manifest[]; wal: string[] }> {
    const inBucket = await this.offsite.artifactNames();
    const { artifacts: retired } = await this.offsite.retired();
    /** Every local backup but those the bucket's retention removed, oldest first. */
    const sendable = (local ?? (await this.listLocal())).artifacts
      .map((a) => a.manifest)
      .filter((m) => !retired.has(m.artifact))
      .reverse();
    return { artifacts: sendable.filter((m) => !inBucket.has(m.artifact)), sendable, wal: (await this.offsite.unshippedWal(this.archiveDir)).waiting };
  }

  /** Make an artifact local (fetching and verifying it from the bucket when only the bucket has it). */
  async materialize(artifact: string): Promise<"local" | "fetched"> {
    if (!isLifeboatArtifact(artifact)) throw new UntrustedDataError(`${JSON.stringify(artifact)} is not the name of a Lifeboat artifact.`);
    if (await this.holdsLocally(artifact)) return "local";
    if (!(await this.offsite.has(artifact))) throw new RestoreRefusedError(`${artifact} is neither in ${this.dir} nor in ${this.offsite.description}.`);
    await this.offsite.fetch(this, artifact);
    return "fetched";
  }

  /** A local artifact is checked on disk; one only the bucket holds, against what the bucket recorded. */
  override async verify(manifest: Manifest): Promise<VerifyResult> {
    if (await this.holdsLocally(manifest.artifact)) return super.verify(manifest);
    return this.offsite.verify(manifest);
  }

  override async checkForRestore(fileName: string, kind: ArtifactKind): Promise<{ path: string; manifest: Manifest }> {
    let name = fileName;
    if (fileName === "latest") {
      const newest = (await this.list()).artifacts.find((a) => a.manifest.kind === kind);
      if (!newest) throw new RestoreRefusedError(`There is no ${KIND_LABELS[kind].replace(/^an? /, "")} of ${this.targetName} yet (npm run backup:list).`);
      name = newest.manifest.artifact;
    }
    refuseBaseBackupByName(name, kind); // before fetching a whole base backup from the bucket
    // Only the bucket has it: fetch it (each file hashed against the manifest), then check it as any local artifact.
    if (isLifeboatArtifact(name) && !(await this.holdsLocally(name)) && (await this.offsite.has(name).catch(() => false))) await this.offsite.fetch(this, name);
    return super.checkForRestore(name, kind);
  }

  private async holdsLocally(artifact: string): Promise<boolean> {
    return (await lstat(path.join(this.dir, manifestFileName(artifact))).catch(() => undefined)) !== undefined;
  }
}
