import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeControl, ManagedCluster, parseControl } from "./managed-cluster";

describe("parseControl", () => {
  it("reads each way a cluster is controlled", () => {
    expect(parseControl("pg_ctl")).toEqual({ method: "pg_ctl" });
    expect(parseControl("pg_ctlcluster:15/main")).toEqual({ method: "pg_ctlcluster", version: "15", cluster: "main" });
    expect(parseControl("pg_ctlcluster:9.6/my_cluster-2")).toEqual({ method: "pg_ctlcluster", version: "9.6", cluster: "my_cluster-2" });
    expect(parseControl("systemd:postgresql@15-main.service")).toEqual({ method: "systemd", unit: "postgresql@15-main.service" });
    expect(parseControl("systemd:postgresql")).toEqual({ method: "systemd", unit: "postgresql" });
    expect(parseControl("command", { start: ["/usr/local/bin/pg-up", "--now"], stop: ["/usr/local/bin/pg-down"] })).toEqual({
      method: "command",
      start: ["/usr/local/bin/pg-up", "--now"],
      stop: ["/usr/local/bin/pg-down"],
    });
  });

  it("describes them as a person would type them", () => {
    expect(describeControl(parseControl("pg_ctlcluster:15/main"))).toBe("pg_ctlcluster 15 main");
    expect(describeControl(parseControl("systemd:postgresql@15-main"))).toBe("systemd unit postgresql@15-main");
  });

  it("refuses what it cannot run safely or completely, saying what is accepted", () => {
    for (const text of [
      "pg_ctlcluster:15",
      "pg_ctlcluster:main/15",
      "pg_ctlcluster:15/main; rm -rf /",
      "pg_ctlcluster:15/../main", // a cluster's name is one path component
      "systemd:",
      "systemd:postgresql $(reboot)",
      "systemd:a/b",
      "systemctl",
      "",
    ]) {
      expect(() => parseControl(text), text).toThrow(/use pg_ctl, pg_ctlcluster:<version>\/<name>, systemd:<unit> or command/);
    }
    expect(() => parseControl("command", { start: ["pg-up"] })).toThrow(/needs both a start and a stop command/);
    expect(() => parseControl("command", { start: [], stop: ["pg-down"] })).toThrow(/needs both a start and a stop command/);
  });
});

/**
 * pg_ctlcluster and systemctl stand-ins on PATH: they record how they were called and start or stop
 * a stand-in postmaster (a process working in the data directory, recorded in postmaster.pid),
 * which is all ManagedCluster reads to know whether the server runs.
 */
describe("ManagedCluster through pg_ctlcluster and systemd", () => {
  let work: string;
  let dataDir: string;
  let calls: string;
  const savedPath = process.env.PATH;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-control-"));
    dataDir = path.join(work, "main");
    calls = path.join(work, "calls.log");
    const bin = path.join(work, "bin");
    await mkdir(dataDir);
    await mkdir(bin);
    const script = [
      "#!/bin/sh",
      `echo "$(basename "$0") $*" >> '${calls}'`,
      'case "$*" in',
      `  *start*) cd '${dataDir}' && setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! > '${dataDir}/postmaster.pid' ;;`,
      `  *stop*) kill "$(head -n1 '${dataDir}/postmaster.pid')"; rm -f '${dataDir}/postmaster.pid' ;;`,
      "esac",
      "",
    ].join("\n");
    for (const name of ["pg_ctlcluster", "systemctl"]) {
      await writeFile(path.join(bin, name), script);
      await chmod(path.join(bin, name), 0o755);
    }
    process.env.PATH = `${bin}:${savedPath}`;
  });

  afterAll(async () => {
    process.env.PATH = savedPath;
    const pid = Number((await readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
    if (pid > 1) process.kill(pid, "SIGKILL");
    await rm(work, { recursive: true, force: true });
  });

  it("starts and stops a Debian cluster with pg_ctlcluster VERSION NAME, passing the shutdown mode", async () => {
    await rm(calls, { force: true });
    const cluster = new ManagedCluster({ dataDir, configDir: "/etc/postgresql/15/main", control: parseControl("pg_ctlcluster:15/main") });
    expect(await cluster.isRunning()).toBe(false);
    await cluster.start({ timeoutMs: 10_000 });
    expect(await cluster.isRunning()).toBe(true);
    await cluster.stop("fast", { timeoutMs: 10_000 });
    expect(await cluster.isRunning()).toBe(false);
    expect((await readFile(calls, "utf8")).trim().split("\n")).toEqual(["pg_ctlcluster 15 main start", "pg_ctlcluster --mode fast 15 main stop"]);
  });

  it("starts and stops a systemd unit with systemctl, and waits for its postmaster to go", async () => {
    await rm(calls, { force: true });
    const cluster = new ManagedCluster({ dataDir, control: parseControl("systemd:postgresql@15-main.service") });
    await cluster.start({ timeoutMs: 10_000 });
    expect(await cluster.isRunning()).toBe(true);
    // Already running: start does not call systemctl again.
    await cluster.start({ timeoutMs: 10_000 });
    await cluster.stop("fast", { timeoutMs: 10_000 });
    expect(await cluster.isRunning()).toBe(false);
    expect((await readFile(calls, "utf8")).trim().split("\n")).toEqual([
      "systemctl start postgresql@15-main.service",
      "systemctl stop postgresql@15-main.service",
    ]);
  });

  it("a start command that fails says which control failed", async () => {
    const cluster = new ManagedCluster({ dataDir, control: { method: "command", start: ["false"], stop: ["true"] } });
    await expect(cluster.start({ timeoutMs: 10_000 })).rejects.toThrow(/did not start \(commands false \/ true\)/);
  });
});
