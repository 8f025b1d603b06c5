import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { PgConnection } from "../pg/connection";
import { findPgBinary } from "../pg/find-pg-binary";
import { withClient } from "../pg/server-info";
import { LifeboatError } from "../errors";
import { ChildProcessError, execChild } from "../process/spawn-child";
import { findFreePort } from "./free-port";
import { asClusterUser, handToClusterUser } from "./os-user";

export type LocalClusterOptions = {
  /** Folder that holds the cluster: `pgdata/`, the socket and `postgres.log`. Created if missing. */
  baseDir: string;
  /** TCP port on 127.0.0.1; a free one is chosen when omitted. */
  port?: number | undefined;
  pgBinDir?: string | undefined;
  superuser?: string | undefined;
  /** When set, TCP connections need this password (scram-sha-256); the socket stays trust. */
  password?: string | undefined;
  walLevel?: "minimal" | "replica" | "logical" | undefined;
  archiveMode?: "on" | "off" | "always" | undefined;
  archiveCommand?: string | undefined;
  /** Any other postgresql.conf settings. */
  settings?: Record<string, string | number | boolean> | undefined;
};

/** Single-quote a word for /bin/sh, which PostgreSQL runs archive_command and restore_command with. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quote a value for postgresql.conf. */
export function confValue(value: string | number | boolean): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "on" : "off";
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * A PostgreSQL cluster that this host controls: initdb into a folder, start, stop, remove. Used by
 * tests (throwaway clusters in a temp folder) and by the quickstart (the demo and metadata
 * clusters). When Lifeboat runs as root, every server-side binary runs as the `postgres` OS user.
 */
export class LocalCluster {
  private constructor(
    readonly baseDir: string,
    public port: number,
    readonly options: LocalClusterOptions,
  ) {}

  get dataDir(): string {
    return path.join(this.baseDir, "pgdata");
  }
  get socketDir(): string {
    return this.baseDir;
  }
  get logFile(): string {
    return path.join(this.baseDir, "postgres.log");
  }
  get superuser(): string {
    return this.options.superuser ?? "postgres";
  }

  /** Open an existing cluster folder, or initdb a new one there. */
  static async open(options: LocalClusterOptions): Promise<LocalCluster> {
    const baseDir = path.resolve(options.baseDir);
    await mkdir(baseDir, { recursive: true, mode: 0o700 });
    await handToClusterUser(baseDir);
    const cluster = new LocalCluster(baseDir, options.port ?? (await findFreePort()), options);
    if (await cluster.isInitialized()) {
      cluster.port = (await cluster.configuredPort()) ?? cluster.port;
      return cluster;
    }
    await cluster.initdb();
    return cluster;
  }

  /** An already initialised cluster folder, or undefined (never runs initdb). */
  static async existing(options: LocalClusterOptions): Promise<LocalCluster | undefined> {
    const exists = await stat(path.join(path.resolve(options.baseDir), "pgdata", "PG_VERSION")).then(
      () => true,
      () => false,
    );
    return exists ? LocalCluster.open(options) : undefined;
  }

  /** A new cluster in a fresh temp folder, for tests: call `remove()` when done. */
  static async temporary(options: Omit<LocalClusterOptions, "baseDir"> = {}): Promise<LocalCluster> {
    const baseDir = await mkdtemp(path.join(os.tmpdir(), "lifeboat-cluster-"));
    return LocalCluster.open({ ...options, baseDir });
  }

  async isInitialized(): Promise<boolean> {
    return stat(path.join(this.dataDir, "PG_VERSION")).then(
      () => true,
      () => false,
    );
  }

  private async configuredPort(): Promise<number | undefined> {
    // postgresql.auto.conf is read after postgresql.conf, so its setting wins.
    const conf = (await Promise.all(["postgresql.conf", "postgresql.auto.conf"].map((f) => readFile(path.join(this.dataDir, f), "utf8").catch(() => "")))).join(
      "\n",
    );
    const matches = [...conf.matchAll(/^\s*port\s*=\s*'?(\d+)'?/gm)];
    const last = matches.at(-1)?.[1];
    return last ? Number(last) : undefined;
  }

  private async runBinary(tool: "initdb" | "pg_ctl", args: string[]): Promise<{ stdout: string; stderr: string }> {
    const binary = await findPgBinary(tool, { pgBinDir: this.options.pgBinDir });
    const command = asClusterUser(binary.path, args);
    try {
      return await execChild(command.file, command.args, { cwd: this.baseDir, timeoutMs: 180_000 });
    } catch (error) {
      const detail = (error instanceof ChildProcessError ? error.stderr || error.message : (error as Error).message).trim().split("\n").slice(-5).join(" | ");
      throw new LifeboatError("CLUSTER_COMMAND_FAILED", `${tool} failed: ${detail}`, {}, { cause: error });
    }
  }

  private async initdb(): Promise<void> {
    const args = ["-D", this.dataDir, "-U", this.superuser, "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums"];
    let pwfile: string | undefined;
    if (this.options.password !== undefined) {
      pwfile = path.join(this.baseDir, ".initdb-pw");
      await writeFile(pwfile, `${this.options.password}\n`, { mode: 0o600 });
      await handToClusterUser(pwfile);
      args.push(`--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256");
    } else {
      args.push("--auth=trust");
    }
    try {
      await this.runBinary("initdb", args);
    } finally {
      if (pwfile) await rm(pwfile, { force: true });
    }
    await this.writeSettings();
  }

  private async writeSettings(): Promise<void> {
    const settings: Record<string, string | number | boolean> = {
      port: this.port,
      listen_addresses: "127.0.0.1",
      unix_socket_directories: this.socketDir,
      wal_level: this.options.walLevel ?? "replica",
      archive_mode: this.options.archiveMode ?? "off",
      max_wal_senders: 4,
      ...(this.options.archiveCommand ? { archive_command: this.options.archiveCommand } : {}),
      ...this.options.settings,
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${confValue(value)}`);
    await appendFile(path.join(this.dataDir, "postgresql.conf"), `\n# Lifeboat\n${lines.join("\n")}\n`);
  }

  async isRunning(): Promise<boolean> {
    const binary = await findPgBinary("pg_ctl", { pgBinDir: this.options.pgBinDir });
    const command = asClusterUser(binary.path, ["-D", this.dataDir, "status"]);
    try {
      await execChild(command.file, command.args, { cwd: this.baseDir, timeoutMs: 30_000 });
      return true;
    } catch {
      return false;
    }
  }

  async start(): Promise<void> {
    if (await this.isRunning()) return;
    try {
      await this.runBinary("pg_ctl", ["-D", this.dataDir, "-l", this.logFile, "-w", "-t", "60", "start"]);
    } catch (error) {
      const log = await readFile(this.logFile, "utf8").catch(() => "");
      const tail = log.trim().split("\n").slice(-5).join(" | ");
      throw new Error(`PostgreSQL in ${this.dataDir} did not start on port ${this.port}: ${tail || (error as Error).message}`, { cause: error });
    }
  }

  async stop(mode: "smart" | "fast" | "immediate" = "fast"): Promise<void> {
    if (!(await this.isRunning())) return;
    await this.runBinary("pg_ctl", ["-D", this.dataDir, "-m", mode, "-w", "-t", "120", "stop"]);
  }

  /** Stop (immediately) and delete everything in the cluster's folder. */
  async remove(): Promise<void> {
    await this.stop("immediate").catch(() => {});
    await rm(this.baseDir, { recursive: true, force: true });
  }

  connection(database = "postgres", user = this.superuser, password = this.options.password): PgConnection {
    return { host: "127.0.0.1", port: this.port, database, user, password };
  }

  /**
   * The superuser over the cluster's own Unix socket (trust auth; the socket's folder is 0700 and
   * belongs to the cluster's OS user, so only that user and root can reach it).
   */
  adminConnection(database = "postgres"): PgConnection {
    return { host: this.socketDir, port: this.port, database, user: this.superuser };
  }

  /** Run SQL as the superuser; returns the rows of the last statement. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = "postgres"): Promise<R[]> {
    return withClient(this.adminConnection(database), async (client) => (await client.query<R>(sql, params)).rows);
  }
}
