import { readFile, readlink, realpath } from "node:fs/promises";
import path from "node:path";
import { LifeboatError } from "../errors";
import { findPgBinary } from "../pg/find-pg-binary";
import { execChild, isRecordedProcessAlive } from "../process/spawn-child";
import { asOsUser, CLUSTER_OS_USER } from "./os-user";

/**
 * How a target's cluster is started and stopped on this host. Lifeboat never assumes how a cluster
 * was made: it may be its own (pg_ctl), Debian's (pg_ctlcluster, configuration in /etc), a systemd
 * unit, or anything a command can start and stop.
 */
export type ClusterControl =
  | { method: "pg_ctl" }
  | { method: "pg_ctlcluster"; version: string; cluster: string }
  | { method: "systemd"; unit: string }
  | { method: "command"; start: string[]; stop: string[] };

export type ManagedClusterOptions = {
  /** The data directory (PGDATA). */
  dataDir: string;
  /** Where postgresql.conf, pg_hba.conf and pg_ident.conf live when not in the data directory. */
  configDir?: string | null | undefined;
  control: ClusterControl;
  /** The OS user the server runs as (and that owns the data directory). */
  osUser?: string | undefined;
  pgBinDir?: string | undefined;
  /** pg_ctl's -l file (pg_ctl control only); default: postgres.log beside the data directory. */
  logFile?: string | undefined;
};

/** Parse a control description: "pg_ctl", "pg_ctlcluster:15/main", "systemd:postgresql@15-main", "command" (with start and stop argument arrays). */
export function parseControl(text: string, commands: { start?: string[] | undefined; stop?: string[] | undefined } = {}): ClusterControl {
  if (text === "pg_ctl") return { method: "pg_ctl" };
  const ctlcluster = /^pg_ctlcluster:(\d+(?:\.\d+)?)\/([A-Za-z0-9_.-]+)$/.exec(text);
  if (ctlcluster) return { method: "pg_ctlcluster", version: ctlcluster[1]!, cluster: ctlcluster[2]! };
  const systemd = /^systemd:([A-Za-z0-9@_.:-]+)$/.exec(text);
  if (systemd) return { method: "systemd", unit: systemd[1]! };
  if (text === "command") {
    if (!commands.start?.length || !commands.stop?.length) {
      throw new LifeboatError("INVALID_INPUT", "A cluster controlled by a command needs both a start and a stop command (argument arrays).");
    }
    return { method: "command", start: commands.start, stop: commands.stop };
  }
  throw new LifeboatError(
    "INVALID_INPUT",
    `Unknown cluster control ${JSON.stringify(text)}: use pg_ctl, pg_ctlcluster:<version>/<name>, systemd:<unit> or command.`,
  );
}

export function describeControl(control: ClusterControl): string {
  switch (control.method) {
    case "pg_ctl":
      return "pg_ctl";
    case "pg_ctlcluster":
      return `pg_ctlcluster ${control.version} ${control.cluster}`;
    case "systemd":
      return `systemd unit ${control.unit}`;
    case "command":
      return `commands ${control.start[0]} / ${control.stop[0]}`;
  }
}

/** A cluster on this host that Lifeboat may stop, move aside and start again (in-place PITR). */
export class ManagedCluster {
  constructor(readonly options: ManagedClusterOptions) {}

  get dataDir(): string {
    return this.options.dataDir;
  }
  get configDir(): string {
    return this.options.configDir ?? this.options.dataDir;
  }
  get osUser(): string {
    return this.options.osUser ?? CLUSTER_OS_USER;
  }
  get logFile(): string {
    return this.options.logFile ?? path.join(path.dirname(this.dataDir), "postgres.log");
  }

  /** The postmaster's pid from postmaster.pid, if it runs (any control method: the data directory tells). */
  async postmasterPid(): Promise<number | undefined> {
    const text = await readFile(path.join(this.dataDir, "postmaster.pid"), "utf8").catch(() => undefined);
    const pid = Number(text?.split("\n")[0]);
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    if (!isRecordedProcessAlive({ pid })) return undefined;
    // A stale postmaster.pid whose number was reused: the postmaster works in its data directory.
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    if (cwd !== undefined && cwd !== (await realpath(this.dataDir).catch(() => this.dataDir))) return undefined;
    return pid;
  }

  async isRunning(): Promise<boolean> {
    return (await this.postmasterPid()) !== undefined;
  }

  private async pgCtl(args: string[], timeoutMs: number): Promise<void> {
    const binary = await findPgBinary("pg_ctl", { pgBinDir: this.options.pgBinDir });
    const command = asOsUser(this.osUser, binary.path, args);
    await execChild(command.file, command.args, { timeoutMs, cwd: "/" });
  }

  private async run(argv: string[], timeoutMs: number): Promise<void> {
    const [file, ...args] = argv;
    if (!file) throw new LifeboatError("INVALID_INPUT", "empty cluster control command");
    await execChild(file, args, { timeoutMs, cwd: "/" });
  }

  /** Start the server and wait (bounded) until its postmaster runs; pg_ctl also waits until it accepts connections. */
  async start(options: { timeoutMs?: number } = {}): Promise<void> {
    if (await this.isRunning()) return;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const { control } = this.options;
    try {
      switch (control.method) {
        case "pg_ctl":
          // -D the configuration directory: pg_ctl finds the data directory from its data_directory setting.
          await this.pgCtl(["-D", this.configDir, "-l", this.logFile, "-w", "-t", String(Math.ceil(timeoutMs / 1000)), "start"], timeoutMs + 10_000);
          break;
        case "pg_ctlcluster":
          await this.run(["pg_ctlcluster", control.version, control.cluster, "start"], timeoutMs);
          break;
        case "systemd":
          await this.run(["systemctl", "start", control.unit], timeoutMs);
          break;
        case "command":
          await this.run(control.start, timeoutMs);
          break;
      }
    } catch (error) {
      // Recovery may still be running when pg_ctl gives up waiting; only a dead postmaster is a failure.
      if (!(await this.isRunning()))
        throw new LifeboatError(
          "CLUSTER_START_FAILED",
          `PostgreSQL in ${this.dataDir} did not start (${describeControl(control)}): ${(error as Error).message}`,
          {},
          { cause: error },
        );
      return;
    }
    // pg_ctl -w waited for the server itself (which may have stopped again since: the caller watches
    // for that). Other methods may return before the postmaster is up: give it a moment to appear.
    if (control.method !== "pg_ctl") await this.waitFor(true, Math.min(timeoutMs, 30_000));
  }

  /** Stop the server and wait (bounded) until its postmaster is gone; "immediate" falls back to SIGQUIT. */
  async stop(mode: "smart" | "fast" | "immediate" = "fast", options: { timeoutMs?: number } = {}): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid === undefined) return;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const { control } = this.options;
    try {
      switch (control.method) {
        case "pg_ctl":
          await this.pgCtl(["-D", this.dataDir, "-m", mode, "-w", "-t", String(Math.ceil(timeoutMs / 1000)), "stop"], timeoutMs + 10_000);
          break;
        case "pg_ctlcluster":
          await this.run(["pg_ctlcluster", "--mode", mode, control.version, control.cluster, "stop"], timeoutMs);
          break;
        case "systemd":
          await this.run(["systemctl", "stop", control.unit], timeoutMs);
          break;
        case "command":
          await this.run(control.stop, timeoutMs);
          break;
      }
    } catch (error) {
      if (mode !== "immediate")
        throw new LifeboatError(
          "CLUSTER_STOP_FAILED",
          `PostgreSQL in ${this.dataDir} did not stop (${describeControl(control)}): ${(error as Error).message}`,
          {},
          { cause: error },
        );
    }
    if (mode === "immediate" && (await this.isRunning())) {
      // The postmaster's own immediate shutdown signal, whatever started it.
      try {
        process.kill(pid, "SIGQUIT");
      } catch {
        // gone meanwhile
      }
    }
    await this.waitFor(false, timeoutMs);
  }

  private async waitFor(running: boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.isRunning()) !== running) {
      if (Date.now() > deadline) {
        throw new LifeboatError(
          "CLUSTER_TIMEOUT",
          `PostgreSQL in ${this.dataDir} did not ${running ? "start" : "stop"} within ${Math.round(timeoutMs / 1000)} s.`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Promote a server in recovery (pg_ctl promote as its OS user: needs no database privilege). */
  async promote(timeoutMs = 60_000): Promise<void> {
    await this.pgCtl(["-D", this.dataDir, "-w", "-t", String(Math.ceil(timeoutMs / 1000)), "promote"], timeoutMs + 10_000);
  }
}
