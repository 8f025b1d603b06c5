import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listBackups } from "@/lib/catalog/list-backups";
import { backupArtifacts, targets } from "@/lib/db/schema";
import { RestoreRefusedError, UntrustedDataError } from "@/lib/engine/errors";
import { restoreEnvironment } from "@/lib/engine/logical/restore-environment";
import { restoreFullBackup } from "@/lib/engine/logical/restore-full";
import { restoreJsonExport } from "@/lib/engine/logical/restore-json";
import { ManifestError } from "@/lib/engine/repository/manifest";
import { UnsafePathError } from "@/lib/engine/repository/paths";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";

/**
 * SCENARIOS.md 28 for the catalog (backup_artifacts) and manifests: rows and files written by
 * someone else name paths outside the repository. Lifeboat lists them without reading them and
 * refuses to restore from them; no connection is ever attempted (the target's port is closed).
 */
describe("a tampered catalog entry or manifest reaches no path outside the repository", () => {
  let meta: TestMetadataDb;
  let work: string;
  let repository: LocalRepository;
  let targetId: number;
  const secret = "the secret outside the repository";
  // Nothing listens here: a restore that got as far as connecting would fail differently.
  const connection = { host: "127.0.0.1", port: 9, database: "app", user: "app", password: "never-sent-pw" };

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-catalog-"));
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await mkdir(repository.dir, { recursive: true });
    await writeFile(path.join(work, "outside.dump"), secret);
    const [row] = await meta.db.insert(targets).values({ name: "app", host: "127.0.0.1", port: 9, database: "app", username: "app" }).returning();
    targetId = row!.id;
  });

  afterAll(async () => {
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("catalog rows naming ../, absolute, NUL and symlinked paths are listed as missing, never read, and every restore refuses them [S22] [S28]", async () => {
    await symlink(path.join(work, "outside.dump"), path.join(repository.dir, "full_backup_2026-01-01T00-00-00Z.dump"));
    // (A NUL byte cannot even be stored in the catalog: PostgreSQL refuses it in text.)
    const names = ["../../outside.dump", path.join(work, "outside.dump"), "full_backup_2026-01-01T00-00-00Z.dump", "base/../../../outside.dump"];
    const now = new Date();
    for (const fileName of names)
      await meta.db.insert(backupArtifacts).values({
        targetId,
        kind: "full",
        fileName,
        manifestFile: `${fileName}.manifest.json`,
        startedAt: now,
        finishedAt: now,
        sizeBytes: 1,
        manifest: { files: [{ name: "../../outside.dump", size: 1, sha256: "0".repeat(64) }] },
      });
    const { rows } = await listBackups(repository, { db: meta.db, targetId });
    expect(rows.map((r) => [r.file, r.status]).sort()).toEqual(names.map((n) => [n, "missing"]).sort());

    for (const fileName of [...names, "full_backup_2026-01-02T00-00-00Z.dump\0../../outside.dump"]) {
      // One at a time: a promise created before the previous one is awaited could reject unhandled.
      const attempts = [
        () => restoreFullBackup({ repository, connection, fileName }),
        () => restoreJsonExport({ repository, connection, fileName, tables: ["users"] }),
        () => restoreEnvironment({ repository, fileName, outDir: path.join(work, "env-out"), identities: [] }),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((e: unknown) => e as Error);
        expect(error, fileName).toBeInstanceOf(Error);
        expect(
          [UnsafePathError, RestoreRefusedError, UntrustedDataError].some((c) => error instanceof c),
          `${fileName}: ${String(error)}`,
        ).toBe(true);
        expect(String(error)).not.toContain(secret);
      }
    }
    expect(await readFile(path.join(work, "outside.dump"), "utf8")).toBe(secret);
  });

  it("a manifest in the repository that lists a file outside its artifact, or names another target, makes the restore refuse before reading anything [S28]", async () => {
    const artifact = "full_backup_2026-02-01T00-00-00Z.dump";
    await writeFile(path.join(repository.dir, artifact), "not really a dump");
    const manifest = (files: { name: string; size: number; sha256: string }[], target = "app") =>
      JSON.stringify({
        format: "lifeboat-manifest",
        version: 1,
        kind: "full",
        artifact,
        target,
        startedAt: "2026-02-01T00:00:00Z",
        finishedAt: "2026-02-01T00:00:01Z",
        sizeBytes: 1,
        files,
        serverVersion: "15.0",
        toolVersions: {},
        encryption: null,
        compression: "none",
      });
    const sha = "0".repeat(64);
    for (const [label, text] of [
      ["a file outside the artifact", manifest([{ name: "../outside.dump", size: secret.length, sha256: sha }])],
      ["an absolute path", manifest([{ name: path.join(work, "outside.dump"), size: secret.length, sha256: sha }])],
      ["another target", manifest([{ name: artifact, size: 17, sha256: sha }], "billing")],
      ["no file", manifest([])],
    ] as const) {
      await writeFile(path.join(repository.dir, `${artifact}.manifest.json`), text);
      const error = await restoreFullBackup({ repository, connection, fileName: artifact }).catch((e: unknown) => e as Error);
      expect(error, label).toBeInstanceOf(Error);
      expect(
        [ManifestError, UntrustedDataError, RestoreRefusedError].some((c) => error instanceof c),
        `${label}: ${String(error)}`,
      ).toBe(true);
      expect(String(error), label).not.toMatch(/ECONNREFUSED|connect/);
    }
    // The control: an honest manifest gets past these checks, as far as the (closed) server.
    const body = "not really a dump";
    await writeFile(
      path.join(repository.dir, `${artifact}.manifest.json`),
      manifest([{ name: artifact, size: body.length, sha256: createHash("sha256").update(body).digest("hex") }]),
    );
    const honest = await restoreFullBackup({ repository, connection, fileName: artifact }).catch((e: unknown) => e as Error);
    expect(
      [ManifestError, UntrustedDataError, RestoreRefusedError, UnsafePathError].some((c) => honest instanceof c),
      String(honest),
    ).toBe(false);
  });
});
