import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { ManagedCluster } from "../cluster/managed-cluster";
import { UntrustedDataError } from "../errors";
import { dropDatabase, isCreatedByLifeboat } from "../logical/restore-full";
import type { PgConnection } from "../pg/connection";
import { finishInPlaceRecovery, PITR_INSTANCE_MARKER, putBackDataDirectory } from "../pitr/run-pitr";
import type { JournalEntry } from "../repository/target-lock";

export type UndoContext = {
  /** The target's connection (its own database is never dropped). */
  connection: PgConnection;
  /** The target's cluster on this host, if it has one: the only data directory an in-place undo may touch. */
  cluster?: ManagedCluster | null | undefined;
  /** The OS user the target's servers (and recovered instances) run as. */
  osUser?: string | undefined;
  pgBinDir?: string | undefined;
};

/**
 * Put back what an operation that died half-way left behind, as its lock's journal describes.
 * The journal is read from disk, so it is untrusted: each action touches only what it could have
 * created (a database other than the target's own, a folder marked as a recovered instance, the
 * target's own data directory).
 */
export async function undoJournalEntry(entry: JournalEntry, context: UndoContext): Promise<string> {
  switch (entry.action) {
    case "drop-database": {
      const database = entry.database;
      if (typeof database !== "string" || database === context.connection.database || ["postgres", "template0", "template1"].includes(database)) {
        throw new UntrustedDataError(`refusing to drop database ${JSON.stringify(database)} named by the lock's journal`);
      }
      if (!(await isCreatedByLifeboat(context.connection, database).catch(() => false))) {
        return `database ${JSON.stringify(database)} named by the lock's journal is gone or was not made by a restore; left alone`;
      }
      await dropDatabase(context.connection, database);
      return `dropped database ${JSON.stringify(database)}, which an interrupted restore had created`;
    }
    case "remove-pitr-instance": {
      const baseDir = entry.baseDir;
      if (typeof baseDir !== "string" || !path.isAbsolute(baseDir)) throw new UntrustedDataError("the lock's journal names no absolute folder to remove");
      if (!existsSync(baseDir)) return `the interrupted recovery's folder ${baseDir} is already gone`;
      if (!existsSync(path.join(baseDir, PITR_INSTANCE_MARKER)))
        throw new UntrustedDataError(`${baseDir} is not a folder Lifeboat made for a recovered instance; left alone`);
      // The instance runs as the target's OS user, started by pg_ctl from its own folder.
      const instance = new ManagedCluster({
        dataDir: path.join(baseDir, "pgdata"),
        control: { method: "pg_ctl" },
        osUser: context.osUser ?? context.cluster?.osUser,
        pgBinDir: context.pgBinDir,
      });
      await instance.stop("immediate");
      // The folder was new or empty when the recovery began: all it holds is the recovery's.
      if (entry.created === false) {
        for (const name of await readdir(baseDir)) await rm(path.join(baseDir, name), { recursive: true, force: true });
      } else {
        await rm(baseDir, { recursive: true, force: true });
      }
      return `stopped and removed the half-recovered instance in ${baseDir}`;
    }
    case "pitr-in-place": {
      const { dataDir, aside, wasRunning, workspace } = entry;
      const cluster = context.cluster;
      if (typeof dataDir !== "string" || typeof aside !== "string" || !cluster || path.resolve(dataDir) !== path.resolve(cluster.dataDir)) {
        throw new UntrustedDataError("the lock's journal names a data directory that is not this target's");
      }
      if (!aside.startsWith(`${dataDir}.pre-pitr-`) || aside.includes("/../"))
        throw new UntrustedDataError("the lock's journal names an unexpected folder for the previous data directory");
      const hadAside = existsSync(aside);
      await putBackDataDirectory(cluster, aside, wasRunning === true);
      if (typeof workspace === "string" && path.dirname(workspace) === path.dirname(dataDir) && path.basename(workspace).startsWith(".lifeboat-pitr-")) {
        await rm(workspace, { recursive: true, force: true });
      }
      return hadAside
        ? `an in-place recovery was interrupted: the previous data directory was put back${wasRunning ? " and started" : ""}`
        : `an in-place recovery was interrupted before the data directory moved${wasRunning ? "; the cluster was started again" : ""}`;
    }
    case "pitr-finish": {
      const { dataDir, workspace } = entry;
      const cluster = context.cluster;
      if (typeof dataDir !== "string" || !cluster || path.resolve(dataDir) !== path.resolve(cluster.dataDir)) {
        throw new UntrustedDataError("the lock's journal names a data directory that is not this target's");
      }
      await finishInPlaceRecovery(cluster);
      if (typeof workspace === "string" && path.dirname(workspace) === path.dirname(dataDir) && path.basename(workspace).startsWith(".lifeboat-pitr-")) {
        await rm(workspace, { recursive: true, force: true });
      }
      return "an in-place recovery had finished but not restarted: it was restarted with its live configuration";
    }
    default:
      throw new UntrustedDataError(`unknown action ${JSON.stringify(entry.action)} in the lock's journal`);
  }
}
