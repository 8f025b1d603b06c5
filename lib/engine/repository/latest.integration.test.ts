import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "@/lib/engine/crypto/age";
import { kindOfFileName, type ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import { createArchivingCluster, type ArchivingCluster } from "@/test/helpers/archiving-cluster";

const KINDS: ArtifactKind[] = ["full", "schema", "json", "env", "base"];

/**
 * `latest` as the file name of every restore command (issue 9): each kind's newest artifact, never a
 * newer one of another kind, and never one of an older set when a newer set holds that kind. Base
 * backups are not restored by name: PITR chooses the one its moment needs, and the refusal says so.
 */
describe('checkForRestore("latest", kind) on a real repository', () => {
  let ac: ArchivingCluster;
  const sets: Record<string, string>[] = [];

  beforeAll(async () => {
    ac = await createArchivingCluster();
    await ac.sql("create table items (id int primary key)");
    const { recipient } = await generateKeyPair();
    const byKind = (files: string[]) => Object.fromEntries(files.map((f) => [kindOfFileName(f) ?? "?", f]));
    // Two complete sets, then a newer one holding only a schema dump.
    for (let i = 0; i < 2; i++) {
      await ac.sql("insert into items values ($1)", [i]);
      sets.push(byKind(await ac.backup(KINDS, { recipients: [recipient] })));
    }
    sets.push(byKind(await ac.backup(["schema"])));
  });

  afterAll(async () => {
    await ac?.remove();
  });

  it("resolves to the newest artifact of that kind, for each kind a restore command takes by name", async () => {
    expect(Object.keys(sets[1]!).sort()).toEqual([...KINDS].sort());
    for (const kind of ["full", "schema", "json", "env"] as const) {
      const newest = kind === "schema" ? sets[2]!.schema! : sets[1]![kind]!;
      expect(newest, kind).not.toBe(sets[0]![kind]);
      const { path: file, manifest } = await ac.repository.checkForRestore("latest", kind);
      expect(manifest.kind, kind).toBe(kind);
      expect(manifest.artifact, kind).toBe(newest);
      expect(file, kind).toBe(path.join(ac.repository.dir, newest));
    }
  });

  it("points at restore pitr for a base backup, by `latest` or by its name, instead of refusing it as a path", async () => {
    await expect(ac.repository.checkForRestore("latest", "base")).rejects.toThrow(
      /Base backups are not restored by file name: npm run restore pitr <when\|latest> chooses the base backup for that moment/,
    );
    // What `npm run restore backup base/<time>` asks.
    await expect(ac.repository.checkForRestore(sets[1]!.base!, "full")).rejects.toThrow(
      new RegExp(`^${sets[1]!.base} is a base backup, not a full dump: base backups are restored with npm run restore pitr`),
    );
  });

  it("refuses `latest` of a kind the target has no artifact of, pointing at backup:list", async () => {
    const other = await createArchivingCluster();
    try {
      await other.backup(["schema"]);
      await expect(other.repository.checkForRestore("latest", "json")).rejects.toThrow(/There is no JSON export of app yet \(npm run backup:list\)/);
      await expect(other.repository.checkForRestore("latest", "env")).rejects.toThrow(/There is no environment backup of app yet/);
    } finally {
      await other.remove();
    }
  });
});
