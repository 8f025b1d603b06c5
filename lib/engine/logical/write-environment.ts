import { copyFile, lstat, mkdir, realpath, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { create as createTar } from "tar";
import type { ArtifactWriter, BackupTarget } from "../backup/types";
import { LifeboatError } from "../errors";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient } from "../pg/server-info";
import { tempPath } from "../repository/files";
import { streamIntoFile } from "./artifact-sink";

/**
 * The environment backup: the configured application files, postgresql.conf and pg_hba.conf, and
 * `pg_dumpall --globals-only` (roles, tablespaces), in a tar that is always age-encrypted (it holds
 * secrets). The plain files exist only in a 0700 staging folder inside the repository and are
 * removed before this returns.
 *
 * The server's configuration files are copied only for a cluster on this host whose data (or
 * configuration) directory the target declares, and only from inside those folders: the paths the
 * server reports are not trusted to name files on Lifeboat's disk.
 */
export const writeEnvironment: ArtifactWriter = async (input) => {
  if (input.recipients.length === 0) {
    throw new LifeboatError("ENCRYPTION_REQUIRED", "Environment backups are always encrypted: set LIFEBOAT_AGE_RECIPIENTS to an age public key (age1…).");
  }
  const { target, settings } = input;
  const staging = tempPath(input.repository.dir, "env-staging");
  const notes: string[] = [];
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    const names: string[] = [];
    await mkdir(path.join(staging, "config"), { mode: 0o700 });
    for (const file of settings.environment.files) {
      const source = path.resolve(settings.environment.baseDir, file);
      const name = path.join("config", path.basename(file));
      if (await copyRegularFile(source, path.join(staging, name))) names.push(name);
      else notes.push(`${file}: not found or not a regular file, skipped`);
    }

    for (const name of await copyServerConfig(target, staging, notes)) names.push(name);

    input.progress("dumping roles");
    const globals = path.join(staging, "globals.sql");
    const args = ["--globals-only", `--file=${globals}`];
    if (!settings.environment.rolePasswords) args.push("--no-role-passwords");
    // No --database: pg_dumpall may read it as a connection string. It connects to `postgres`
    // (or template1), which the passfile covers.
    await runPgTool({ tool: "pg_dumpall", args, connection: target.connection, pgBinDir: settings.pgBinDir, signal: input.signal });
    names.push("globals.sql");
    await writeFile(
      path.join(staging, "README.txt"),
      "Lifeboat environment backup. config/: application configuration files. server/: postgresql.conf and pg_hba.conf.\n" +
        "globals.sql: roles and tablespaces (psql -f globals.sql). Apply by hand; Lifeboat never overwrites live configuration.\n",
      { mode: 0o600 },
    );
    names.push("README.txt");

    input.progress("encrypting");
    await streamIntoFile(createTar({ cwd: staging, portable: true }, names), input.staged.tempPath, { recipients: input.recipients });
    return { compression: "none", toolVersions: { pg_dumpall: input.toolVersions.pg_dumpall ?? input.toolVersions.pg_dump ?? "unknown" }, notes };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
};

async function copyRegularFile(source: string, destination: string): Promise<boolean> {
  const info = await lstat(source).catch(() => undefined);
  if (!info?.isFile()) return false;
  await copyFile(source, destination);
  return true;
}

async function copyServerConfig(target: BackupTarget, staging: string, notes: string[]): Promise<string[]> {
  const roots = [target.configDir, target.dataDir].filter((d): d is string => Boolean(d));
  if (roots.length === 0) {
    notes.push("postgresql.conf/pg_hba.conf: the target declares no data or configuration directory on this host, skipped");
    return [];
  }
  const realRoots = (await Promise.all(roots.map((r) => realpath(r).catch(() => undefined)))).filter((r): r is string => Boolean(r));
  const reported = await withClient(target.connection, async (client) => {
    const { rows } = await client.query<{ config_file: string | null; hba_file: string | null }>(
      "select current_setting('config_file', true) as config_file, current_setting('hba_file', true) as hba_file",
    );
    return rows[0];
  }).catch(() => undefined);
  if (!reported?.config_file) {
    notes.push("postgresql.conf/pg_hba.conf: their location needs pg_read_all_settings, skipped");
    return [];
  }
  const copied: string[] = [];
  for (const file of [reported.config_file, reported.hba_file]) {
    if (!file) continue;
    const real = await realpath(file).catch(() => undefined);
    const inside = real && realRoots.some((root) => real === root || real.startsWith(`${root}${path.sep}`));
    if (!inside) {
      notes.push(`${path.basename(file)}: outside the target's declared folders, skipped`);
      continue;
    }
    const name = path.join("server", path.basename(file));
    await mkdir(path.join(staging, "server"), { recursive: true, mode: 0o700 });
    if (await copyRegularFile(real, path.join(staging, name))) copied.push(name);
    else notes.push(`${path.basename(file)}: not readable from here, skipped`);
  }
  return copied;
}
