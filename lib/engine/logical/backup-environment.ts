import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { create as createTar } from "tar";
import type { PgConnection } from "../pg/connection";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient } from "../pg/server-info";
import { findPgBinary } from "../pg/find-pg-binary";
import { openArtifactSink } from "./artifact-sink";

export type BackupEnvironmentOptions = {
  connection: PgConnection;
  pgBinDir?: string | undefined;
  /** Configuration files (.env, docker-compose.yml), relative to baseDir. */
  files: string[];
  baseDir: string;
  rolePasswords: boolean;
  stagingDir: string;
  /** The encrypted tar to write. */
  output: string;
  recipients: string[];
  signal?: AbortSignal | undefined;
};

/**
 * The environment backup: the configured files, postgresql.conf and pg_hba.conf when this
 * process can read them, and `pg_dumpall --globals-only` (roles, tablespaces), in a tar that is
 * always age-encrypted (it holds secrets). The plain files exist only in a 0700 staging folder
 * inside the repository and are removed before this returns.
 */
export async function backupEnvironment(options: BackupEnvironmentOptions): Promise<{ toolVersions: Record<string, string>; notes: string[] }> {
  const notes: string[] = [];
  await mkdir(options.stagingDir, { recursive: true, mode: 0o700 });
  try {
    const names: string[] = [];
    await mkdir(path.join(options.stagingDir, "config"), { mode: 0o700 });
    for (const file of options.files) {
      const source = path.resolve(options.baseDir, file);
      const name = path.join("config", path.basename(file));
      try {
        await copyFile(source, path.join(options.stagingDir, name));
        names.push(name);
      } catch {
        notes.push(`${file}: not found or not readable, skipped`);
      }
    }

    const serverFiles = await withClient(options.connection, async (client) => {
      const { rows } = await client.query<{ config_file: string | null; hba_file: string | null }>(
        "select current_setting('config_file', true) as config_file, current_setting('hba_file', true) as hba_file",
      );
      return rows[0];
    }).catch(() => undefined);
    for (const file of [serverFiles?.config_file, serverFiles?.hba_file]) {
      if (!file) continue;
      const name = path.join("server", path.basename(file));
      try {
        await mkdir(path.join(options.stagingDir, "server"), { recursive: true, mode: 0o700 });
        await copyFile(file, path.join(options.stagingDir, name));
        names.push(name);
      } catch {
        notes.push(`${path.basename(file)}: on the server and not readable from here, skipped`);
      }
    }
    if (!serverFiles?.config_file) notes.push("postgresql.conf/pg_hba.conf: their location needs pg_read_all_settings, skipped");

    const globals = path.join(options.stagingDir, "globals.sql");
    const args = ["--globals-only", `--file=${globals}`];
    if (!options.rolePasswords) args.push("--no-role-passwords");
    // No --database: pg_dumpall may read it as a connection string. It connects to `postgres`
    // (or template1), which the passfile covers.
    await runPgTool({ tool: "pg_dumpall", args, connection: options.connection, pgBinDir: options.pgBinDir, signal: options.signal });
    names.push("globals.sql");
    await writeFile(
      path.join(options.stagingDir, "README.txt"),
      "Lifeboat environment backup. config/: application configuration files. server/: postgresql.conf and pg_hba.conf.\n" +
        "globals.sql: roles and tablespaces (psql -f globals.sql). Apply by hand; Lifeboat never overwrites live configuration.\n",
      { mode: 0o600 },
    );
    names.push("README.txt");

    const sink = await openArtifactSink(options.output, { recipients: options.recipients });
    const tarStream = createTar({ cwd: options.stagingDir, portable: true }, names);
    tarStream.pipe(sink.input);
    await sink.done;
    const pgDumpall = await findPgBinary("pg_dumpall", { pgBinDir: options.pgBinDir });
    return { toolVersions: { pg_dumpall: pgDumpall.version.text }, notes };
  } finally {
    await rm(options.stagingDir, { recursive: true, force: true });
  }
}
