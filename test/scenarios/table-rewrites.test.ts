import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupSet } from "@/lib/engine/backup/run-backup-set";
import { restoreFullBackup } from "@/lib/engine/logical/restore-full";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { TEST_BACKUP_SETTINGS } from "@/test/helpers/archiving-cluster";
import { createTestTarget, type TestTarget } from "@/test/helpers/target";

const ROWS = 20_000;

/**
 * SCENARIOS.md 25 for the rewrites the issue names beside ALTER TABLE (covered in
 * logical-safety.integration.test.ts): TRUNCATE (refilled in the same transaction), VACUUM FULL
 * and drop-and-recreate. All are MVCC-unsafe: a dump whose snapshot predates their commit reads the new, empty
 * file and reports an empty table as success. Each commits while the backup waits for its lock.
 */
describe("a table rewrite commits while the backup waits for its lock: the backup holds every row", () => {
  let target: TestTarget;
  let work: string;
  let repository: LocalRepository;
  let clock = Date.now();

  const count = async (database = "app") => Number((await target.query<{ n: string }>("select count(*) as n from ledger", [], database))[0]!.n);

  /** Wait (at most 20 s) until a session with `applicationName` waits for a lock. */
  const waitForLockWait = async (applicationName: string) => {
    for (let i = 0; i < 200; i++) {
      const rows = await target.cluster.query<{ n: string }>(
        "select count(*) as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
        [applicationName],
      );
      if (Number(rows[0]?.n) > 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${applicationName} never waited for a lock`);
  };

  /** Start a backup of full + json, let `commitRewrite` finish the rewrite once it waits, and check every row is in both. */
  const backupAcross = async (label: string, commitRewrite: () => Promise<void>) => {
    const running = runBackupSet({
      target: { name: "app", connection: target.connection },
      repository,
      kinds: ["full", "json"],
      settings: TEST_BACKUP_SETTINGS,
      now: () => new Date((clock = Math.max(clock + 1000, Date.now()))),
    });
    await waitForLockWait("lifeboat backup");
    await commitRewrite();
    const result = await running;
    const failed = result.artifacts.filter((a) => !a.ok);
    expect(failed, `${label}: ${JSON.stringify(failed)}`).toEqual([]);
    for (const artifact of result.artifacts)
      if (artifact.ok) expect(artifact.manifest.tableRowCounts?.["public.ledger"], `${label} ${artifact.kind}`).toBe(ROWS);
    const full = result.artifacts.find((a) => a.kind === "full");
    const copy = `copy_${label.replace(/\W+/g, "_")}`;
    const restored = await restoreFullBackup({ repository, connection: target.connection, fileName: full?.ok ? full.file : "", intoDatabase: copy });
    expect(restored.rowCounts.every((r) => r.ok)).toBe(true);
    expect(await count(copy)).toBe(ROWS);
  };

  beforeAll(async () => {
    target = await createTestTarget();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-rewrites-"));
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await target.query("create table ledger (id bigint primary key, amount numeric not null, note text)");
    await target.query(`insert into ledger select g, g * 1.5, 'entry ' || g from generate_series(1, ${ROWS}) g`);
  });

  afterAll(async () => {
    await target?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("TRUNCATE and refill in one transaction (a migration that rebuilds a table) [S25]", async () => {
    const migration = new pg.Client({ ...target.connection });
    await migration.connect();
    try {
      await migration.query("begin");
      await migration.query("create temporary table keep on commit drop as select * from ledger");
      await migration.query("truncate ledger");
      await migration.query("insert into ledger select * from keep");
      await backupAcross("truncate", async () => {
        await migration.query("commit");
      });
    } finally {
      await migration.end();
    }
    expect(await count()).toBe(ROWS);
  });

  it("VACUUM FULL, queued behind a reader, runs while the backup waits behind it [S25]", async () => {
    const reader = new pg.Client({ ...target.connection });
    const vacuum = new pg.Client({ ...target.connection, application_name: "rewrite vacuum" } as pg.ClientConfig);
    await reader.connect();
    await vacuum.connect();
    try {
      // The reader holds ACCESS SHARE, so VACUUM FULL waits for ACCESS EXCLUSIVE, and the backup queues behind it.
      await reader.query("begin; select count(*) from ledger");
      const vacuuming = vacuum.query("vacuum full ledger");
      await waitForLockWait("rewrite vacuum");
      await backupAcross("vacuum full", async () => {
        await reader.query("commit");
        await vacuuming;
      });
    } finally {
      await reader.end();
      await vacuum.end();
    }
    expect(await count()).toBe(ROWS);
  });

  it("DROP TABLE, CREATE TABLE and refill in one transaction (a migration that recreates a table) [S25]", async () => {
    const migration = new pg.Client({ ...target.connection });
    await migration.connect();
    const before = await target.fingerprint();
    try {
      await migration.query("begin");
      await migration.query("create temporary table keep on commit drop as select * from ledger");
      await migration.query("drop table ledger");
      // The same table again, as a migration tool would recreate it (same columns, a new relation).
      await migration.query("create table ledger (id bigint primary key, amount numeric not null, note text)");
      await migration.query("insert into ledger select * from keep");
      await backupAcross("drop and recreate", async () => {
        await migration.query("commit");
      });
    } finally {
      await migration.end();
    }
    expect(await count()).toBe(ROWS);
    // The backup holds the recreated table's rows, equal by content to what the migration kept.
    expect((await target.fingerprint("copy_drop_and_recreate"))["public.ledger"]).toBe(before["public.ledger"]);
  });
});
