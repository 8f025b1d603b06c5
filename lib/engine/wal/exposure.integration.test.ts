import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createArchivingCluster, type ArchivingCluster } from "@/test/helpers/archiving-cluster";
import { measureExposure } from "./exposure";

/**
 * An idle server still closes segments (archive_timeout after each checkpoint, every PITR's WAL
 * switch): the newest archived segments then hold no transaction at all. Housekeeping WAL written
 * after them exposes nothing, and a real write is measured from the last archived commit, however
 * many empty segments came since.
 */
describe("wal:status exposure after segments that hold no transaction", () => {
  let ac: ArchivingCluster;
  const measure = () => measureExposure({ connection: ac.cluster.connection("app"), archiveDir: ac.repository.archiveDir });

  beforeAll(async () => {
    ac = await createArchivingCluster();
    await ac.sql("create table marker (id int primary key)");
    await ac.sql("insert into marker values (1)");
    await ac.archiveNow();
    // Five segments of checkpoints only.
    for (let i = 0; i < 5; i++) {
      await ac.cluster.query("checkpoint");
      await ac.archiveNow();
    }
  });

  afterAll(async () => {
    await ac?.remove();
  });

  it("housekeeping WAL after them exposes nothing: 0 s, not unknown", async () => {
    await ac.cluster.query("checkpoint");
    const exposure = await measure();
    expect(exposure.unarchivedBytes).toBeGreaterThan(0);
    expect(exposure.exposureSeconds).toBe(0);
  });

  it("a write after them is measured from the last archived commit", async () => {
    const committedBefore = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    await ac.sql("insert into marker values (2)");
    const exposure = await measure();
    expect(exposure.lastArchivedCommitAt).not.toBeNull();
    expect(exposure.lastArchivedCommitAt!.getTime()).toBeLessThan(committedBefore);
    expect(exposure.exposureSeconds).toBeGreaterThanOrEqual(1);
  });
});
