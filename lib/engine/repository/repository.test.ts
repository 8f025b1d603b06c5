import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeFile } from "./manifest";
import { LocalRepository } from "./repository";

/** The error a promise rejects with; a promise that resolves fails the test. */
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error as Error,
  );

/**
 * Manifests are read back from disk, where anyone who can write the repository could edit them:
 * they are untrusted input (SCENARIOS 22, 28).
 */
describe("a repository treats its manifests as untrusted input", () => {
  let work: string;
  let repository: LocalRepository;
  const artifact = "full_backup_2026-01-15T02-00-00Z.dump";
  let good: Record<string, unknown>;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-repo-"));
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepare();
    await writeFile(path.join(repository.dir, artifact), "PGDMP pretend dump");
    // A secret outside the repository that a forged manifest tries to reach.
    await writeFile(path.join(work, "outside-secret.txt"), "s".repeat(12345));
    good = {
      format: "lifeboat-manifest",
      version: 1,
      kind: "full",
      target: "app",
      artifact,
      startedAt: "2026-01-15T02:00:00.000Z",
      finishedAt: "2026-01-15T02:00:01.000Z",
      files: [await describeFile(repository.dir, artifact)],
      sizeBytes: 18,
      serverVersion: "15.20",
      toolVersions: { pg_dump: "15.20" },
      compression: "gzip:6 (pg_dump)",
      encryption: null,
    };
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const writeManifest = (manifest: unknown) => writeFile(path.join(repository.dir, `${artifact}.manifest.json`), JSON.stringify(manifest));

  it("lists and verifies an intact artifact", async () => {
    await writeManifest(good);
    const { artifacts, unreadable } = await repository.list();
    expect(unreadable).toEqual([]);
    expect(artifacts.map((a) => a.manifest.artifact)).toEqual([artifact]);
    await expect(repository.checkForRestore(artifact, "full")).resolves.toMatchObject({ path: path.join(repository.dir, artifact) });
    await expect(repository.checkForRestore("latest", "full")).resolves.toMatchObject({ path: path.join(repository.dir, artifact) });
  });

  it("refuses a manifest whose files lie outside the artifact, without reading them [S22] [S28]", async () => {
    for (const name of ["../../outside-secret.txt", `${artifact}/../../../outside-secret.txt`, "/etc/passwd", "other.dump"]) {
      await writeManifest({ ...good, files: [{ name, size: 12345, sha256: "a".repeat(64) }] });
      const { artifacts, unreadable } = await repository.list();
      expect(artifacts, name).toEqual([]);
      expect(unreadable[0]?.reason, name).toMatch(/lies outside the artifact/);
      const error = await failure(repository.checkForRestore(artifact, "full"));
      expect(error.message, name).toMatch(/malformed/);
      // Nothing about the outside file (its size) leaks into the message.
      expect(error.message, name).not.toContain("12345");
    }
  });

  it("refuses a manifest that lists no file, whose artifact name is not its kind's, or that names another target [S28]", async () => {
    await writeManifest({ ...good, files: [] });
    await expect(repository.checkForRestore(artifact, "full")).rejects.toThrow(/lists no file/);
    await writeManifest({ ...good, artifact: "../full_backup_2026-01-15T02-00-00Z.dump" });
    await expect(repository.checkForRestore(artifact, "full")).rejects.toThrow(/malformed/);
    await writeManifest({ ...good, kind: "json" });
    await expect(repository.checkForRestore(artifact, "full")).rejects.toThrow(/malformed|says it is/);
    await writeManifest({ ...good, target: "other" });
    await expect(repository.checkForRestore(artifact, "full")).rejects.toThrow(/belongs to target "other"/);
    await writeManifest(good);
  });

  it("refuses target names that could leave the repository [S22]", () => {
    for (const name of ["../etc", "a/b", "..", ".hidden", "UPPER", ""]) {
      expect(() => new LocalRepository(path.join(work, "backups"), name), name).toThrow(/Not a valid target name/);
    }
  });

  it("names similar backups when the file name is misspelled, and points at backup:list", async () => {
    await writeManifest(good);
    const error = await failure(repository.checkForRestore("full_backup_2026-01-15T02-00-01Z.dump", "full"));
    expect(error.message).toMatch(/no such backup of app\. Did you mean full_backup_2026-01-15T02-00-00Z\.dump\?/);
    expect(error.message).toMatch(/npm run backup:list/);
  });

  it("never overwrites a committed artifact or manifest", async () => {
    const staged = await repository.stage(artifact);
    await mkdir(path.dirname(staged.tempPath), { recursive: true });
    await writeFile(staged.tempPath, "an impostor");
    await expect(staged.commit()).rejects.toThrow(/already exists/);
    await staged.discard();
    expect(await readFile(path.join(repository.dir, artifact), "utf8")).toBe("PGDMP pretend dump");
    await expect(repository.writeManifest(good as never)).rejects.toThrow(/already exists/);
  });
});
