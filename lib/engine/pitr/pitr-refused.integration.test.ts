import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { withClient } from "@/lib/engine/pg/server-info";
import { createArchivingCluster, type ArchivingCluster } from "@/test/helpers/archiving-cluster";
import { planPitr } from "./plan-pitr";
import { parseRecoveryTarget } from "./recovery-target";
import { PitrFailedError, pitrToNewInstance } from "./run-pitr";

/**
 * Issue 9: a recovered server that refuses the target's credentials once made PITR poll forever.
 * Here the restored cluster's own pg_hba.conf (it keeps its configuration in the data directory,
 * so the base backup carries it) rejects the target's role on 127.0.0.1, where the recovered
 * instance listens: the recovery must end at once, say why, and leave nothing behind.
 */
describe("PITR to a new instance whose pg_hba.conf rejects the target's role", () => {
  let ac: ArchivingCluster;
  const password = "inspector-Scr4m-pw";

  beforeAll(async () => {
    ac = await createArchivingCluster();
    await ac.sql("create table marker (id int primary key)");
    await ac.cluster.query(`create role inspector login password '${password}'`);
    await ac.cluster.query("grant connect on database app to inspector");
    // Allowed from the application's network only (not loopback), as some sites keep it.
    const hba = path.join(ac.cluster.dataDir, "pg_hba.conf");
    await writeFile(hba, `host all inspector 127.0.0.1/32 reject\nhost all inspector 10.0.0.0/8 scram-sha-256\n${await readFile(hba, "utf8")}`);
    await ac.cluster.query("select pg_reload_conf()");
    await ac.backup(["base"]);
    await ac.sql("insert into marker values (1)");
    await ac.archiveNow();
  });

  afterAll(async () => {
    await ac?.remove();
  });

  it("fails within seconds, quoting the refusal, and removes the folder it made", async () => {
    const baseDir = path.join(ac.work, "recovered");
    const plan = await planPitr({ repository: ac.repository, target: parseRecoveryTarget({ latest: true }, "UTC") });
    const connection = { ...ac.cluster.connection("app"), user: "inspector", password };
    const started = Date.now();
    const error = await pitrToNewInstance({ plan, repository: ac.repository, connection, baseDir, port: await findFreePort() }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(PitrFailedError);
    expect(error?.message).toMatch(
      /^The recovered server refused the target's credentials \(pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "inspector"/,
    );
    expect(error?.message).toMatch(/it has the roles, passwords and pg_hba\.conf of the recovered moment/);
    expect(error?.message).not.toContain(password);
    // One refused login ends it: not the hour-long recovery deadline.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await readdir(baseDir).catch(() => "gone")).toBe("gone");
    // The live cluster refuses it on loopback too: the refusal is the restored configuration's own.
    await expect(withClient(connection, (c) => c.query("select 1"))).rejects.toThrow(/pg_hba\.conf rejects connection/);
  });
});
