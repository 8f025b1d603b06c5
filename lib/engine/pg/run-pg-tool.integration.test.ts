import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
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

  it("hands the tool an allow-listed environment: no other secret of Lifeboat's process reaches it [S24]", async () => {
    // Secrets Lifeboat's own process holds (under docker-compose, the metadata password; the
    // sign-in secret; the bucket's key; a second target's password variable) and a stray libpq one.
    const planted: Record<string, string> = {
      DATABASE_URL: "postgres://lifeboat:meta-Secret-pw@db:5432/lifeboat",
      AUTH_SECRET: "auth-secret-value-0123456789",
      LIFEBOAT_S3_SECRET_ACCESS_KEY: "s3-secret-key-value",
      LIFEBOAT_TARGET_REPORTING_PASSWORD: "second-target-Secret-pw",
      DB_PASSWORD: "default-target-env-pw",
      SOME_OTHER_TOKEN: "token-value",
    };
    const saved = Object.fromEntries(Object.keys(planted).map((k) => [k, process.env[k]]));
    Object.assign(process.env, planted);
    const blocker = new pg.Client({ ...cluster.adminConnection() });
    await blocker.connect();
    await blocker.query("begin; lock table accounts in access exclusive mode");
    /** Every process of the tool's group (the guard that leads it, and pg_dump), with its environment as the kernel holds it. */
    const group: { program: string; environ: Map<string, string> }[] = [];
    const parseEnviron = (text: string) =>
      new Map(
        text
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as [string, string]),
      );
    try {
      await runPgTool({
        tool: "pg_dump",
        args: ["--format=plain", "--table=accounts"],
        connection: cluster.connection("postgres"),
        stdoutFile: path.join(workDir, "allow-list.sql"),
        onSpawn: (child) => {
          void (async () => {
            try {
              for (let i = 0; i < 100; i++) {
                const [row] = await cluster.query<{ n: string }>("select count(*) as n from pg_locks where not granted");
                if (Number(row?.n) > 0) break;
                await new Promise((r) => setTimeout(r, 100));
              }
              for (const entry of await readdir("/proc")) {
                if (!/^\d+$/.test(entry)) continue;
                const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
                // Fields after the command's closing parenthesis: state, ppid, pgrp.
                const pgrp = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2];
                if (pgrp !== String(child.pid)) continue;
                const program = (await readFile(`/proc/${entry}/cmdline`)).toString("utf8").split("\0").filter(Boolean);
                group.push({ program: program.join(" "), environ: parseEnviron((await readFile(`/proc/${entry}/environ`)).toString("utf8")) });
              }
            } finally {
              await blocker.query("commit");
            }
          })();
        },
      });
    } finally {
      await blocker.end();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }

    // pg_dump itself is among them (it was blocked on the lock while we looked).
    expect(
      group.map((p) => p.program).some((p) => /(^|\/)pg_dump /.test(p)),
      JSON.stringify(group.map((p) => p.program)),
    ).toBe(true);
    const allowed = (key: string) => ["PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR"].includes(key) || key.startsWith("LC_") || key.startsWith("PG");
    for (const { program, environ } of group) {
      const keys = [...environ.keys()];
      expect(
        keys.filter((k) => !allowed(k)),
        program,
      ).toEqual([]);
      for (const key of Object.keys(planted)) expect(keys, program).not.toContain(key);
      const values = [...environ.values()].join("\n");
      for (const secret of [...Object.values(planted), PASSWORD]) expect(values, program).not.toContain(secret);
    }
    // What pg_dump does get: its connection as PG* variables and the per-job passfile.
    const dump = group.find((p) => /(^|\/)pg_dump /.test(p.program))!.environ;
    expect(dump.get("PGHOST")).toBe("127.0.0.1");
    expect(dump.get("PGPORT")).toBe(String(cluster.port));
    expect(dump.get("PGPASSFILE")).toMatch(/./);
    expect(dump.get("PATH")).toBe(process.env.PATH);
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
