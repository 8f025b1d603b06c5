import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../cluster/local-cluster";
import { withClient } from "./server-info";
import { preflightClientTool } from "./preflight";
import { OperationAbortedError } from "../errors";
import { PgToolError, runPgTool } from "./run-pg-tool";
import { ClientTooOldError } from "./versions";

const PASSWORD = "Sup3r-s3cret:pass'word";

describe("runPgTool against a password-protected cluster", () => {
  let cluster: LocalCluster;
  let workDir: string;

  beforeAll(async () => {
    cluster = await LocalCluster.temporary({ password: PASSWORD });
    await cluster.start();
    await cluster.query("create table accounts (id int primary key, owner text); insert into accounts values (1, 'ayu'), (2, 'budi')");
    workDir = await mkdtemp(path.join(os.tmpdir(), "lifeboat-tooltest-"));
  });

  afterAll(async () => {
    await cluster?.remove();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("keeps the password out of the child's argv and environment, and removes the passfile [S24]", async () => {
    // Hold a lock so pg_dump blocks on it and can be inspected while it runs.
    const blocker = new pg.Client({ ...cluster.adminConnection() });
    await blocker.connect();
    await blocker.query("begin; lock table accounts in access exclusive mode");

    const out = path.join(workDir, "dump.sql");
    let inspected: { argv: string; environ: string; passfileMode: number; passfilePath: string } | undefined;
    const run = runPgTool({
      tool: "pg_dump",
      args: ["--format=plain", "--table=accounts"],
      connection: cluster.connection("postgres"),
      stdoutFile: out,
      onSpawn: (child) => {
        void (async () => {
          // Wait until pg_dump is connected and waiting for the lock.
          for (let i = 0; i < 100; i++) {
            const [row] = await cluster.query<{ n: string }>("select count(*) as n from pg_locks where not granted");
            if (Number(row?.n) > 0) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          const argv = (await readFile(`/proc/${child.pid}/cmdline`)).toString("utf8").split("\0").join(" ");
          const environ = (await readFile(`/proc/${child.pid}/environ`)).toString("utf8");
          const passfilePath = /PGPASSFILE=([^\0]+)/.exec(environ)?.[1] ?? "";
          const passfileMode = (await stat(passfilePath)).mode & 0o777;
          inspected = { argv, environ, passfileMode, passfilePath };
          await blocker.query("commit");
        })();
      },
    });
    const result = await run;
    await blocker.end();

    expect(inspected).toBeDefined();
    expect(inspected!.argv).toContain("pg_dump");
    expect(inspected!.argv).not.toContain(PASSWORD);
    expect(inspected!.environ).not.toContain(PASSWORD);
    expect(inspected!.environ).not.toContain("PGPASSWORD");
    expect(inspected!.passfileMode).toBe(0o600);
    await expect(stat(inspected!.passfilePath)).rejects.toThrow(/ENOENT/);

    const dump = await readFile(out, "utf8");
    expect(dump).toContain("COPY public.accounts");
    expect(dump).toContain("budi");
    expect(result.bytesWritten).toBe(Buffer.byteLength(dump));
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it("fails with the tool's message and without the password on a wrong password [S24]", async () => {
    const error = await runPgTool({
      tool: "pg_dump",
      args: ["--schema-only"],
      connection: { ...cluster.connection("postgres"), password: "wrong-password" },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgToolError);
    expect((error as Error).message).toMatch(/password authentication failed/);
    expect((error as Error).message).not.toContain("wrong-password");
  });

  it("takes hostile database names literally (no connection string, no option) [S17]", async () => {
    const name = "-d host=evil dbname='x' \"ü\"";
    await cluster.query(`create database ${pg.escapeIdentifier(name)}`);
    await withClient(cluster.connection(name), (c) => c.query('create table "select" ("a b" int); insert into "select" values (7)'));
    const result = await runPgTool({ tool: "pg_dump", args: ["--format=plain"], connection: cluster.connection(name) });
    expect(result.stdout).toContain('COPY public."select" ("a b")');
  });

  it("stops the tool when the job is cancelled", async () => {
    const controller = new AbortController();
    const blocker = new pg.Client({ ...cluster.adminConnection() });
    await blocker.connect();
    await blocker.query("begin; lock table accounts in access exclusive mode");
    const started = Date.now();
    const run = runPgTool({ tool: "pg_dump", args: ["--table=accounts"], connection: cluster.connection(), signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    await expect(run).rejects.toBeInstanceOf(OperationAbortedError);
    expect(Date.now() - started).toBeLessThan(10_000);
    await blocker.query("rollback");
    await blocker.end();
  });

  it("passes the version preflight with the machine's own tools", async () => {
    const result = await preflightClientTool("pg_dump", cluster.connection());
    expect(result.binary.version.major).toBeGreaterThanOrEqual(result.server.version.major);
    expect(result.server.versionString).toMatch(/^PostgreSQL \d+/);
  });

  it("refuses a client older than the server before running it [S19]", async () => {
    // This machine has no older pg_dump; a stand-in reports an old version and would record
    // that it ran if it were ever called for real.
    const fakeBin = path.join(workDir, "old-bin");
    const marker = path.join(workDir, "old-pg_dump-ran");
    await import("node:fs/promises").then((fs) => fs.mkdir(fakeBin));
    await writeFile(
      path.join(fakeBin, "pg_dump"),
      `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 12.19"; exit 0; fi\ntouch '${marker}'\n`,
    );
    await chmod(path.join(fakeBin, "pg_dump"), 0o755);
    const error = await preflightClientTool("pg_dump", cluster.connection(), { pgBinDir: fakeBin }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientTooOldError);
    expect((error as Error).message).toMatch(/pg_dump 12\.19 is older than the server \(PostgreSQL 1\d\.\d+\)/);
    await expect(stat(marker)).rejects.toThrow(/ENOENT/);
  });
});
