import { randomBytes } from "node:crypto";
import { link, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { LifeboatError, TargetBusyError } from "../errors";
import { isRecordedProcessAlive, killRecordedChildren, processStartTime, type ChildRecord } from "../process/spawn-child";
import { ensureDir, FILE_MODE, fsyncPath, replaceFile, tempPath } from "./files";

/**
 * Undo work an operation could leave half-done if Lifeboat died mid-way (a database created for
 * a restore, a data directory moved aside by an in-place PITR). It is written into the lock before
 * the step and cleared after it; whoever next takes over the lock from a dead holder finds it and
 * puts things back before doing anything else.
 */
export type JournalEntry = { id: string; action: string; [key: string]: unknown };

export type LockRecord = {
  format: "lifeboat-lock";
  host: string;
  pid: number;
  startTime: string | undefined;
  operation: string;
  since: string;
  runId: number | null;
  /** Processes the operation started; none may still run when the lock is taken over. */
  children: ChildRecord[];
  journal: JournalEntry[];
  /**
   * The holder finished, but left undo work it could not do (the journal): the lock stays so
   * whoever takes it next does that work first.
   */
  finished?: boolean;
};

export type InheritedLock = { holder: LockRecord; journal: JournalEntry[] };

const LOCK_FILE = ".lock";

/**
 * One operation per target at a time, across processes, without the metadata database (a
 * disaster-recovery restore must work while it is down). The lock file is written completely
 * under a temporary name and then linked into place, so it exists whole or not at all (a full
 * disk cannot leave an empty lock behind). It records the holder and every child process; a lock
 * whose holder died on this host is taken over only once none of its children runs any more.
 */
export class TargetLock {
  private record: LockRecord;
  private writes: Promise<void> = Promise.resolve();
  private released = false;
  /** The last failure to update the lock file (the lock itself is still held). */
  lastWriteError: Error | undefined;

  private constructor(
    readonly file: string,
    record: LockRecord,
  ) {
    this.record = record;
  }

  get holder(): Readonly<LockRecord> {
    return this.record;
  }

  static async acquire(dir: string, target: string, operation: string, options: { runId?: number | null | undefined } = {}): Promise<TargetLock> {
    await ensureDir(dir);
    const file = path.join(dir, LOCK_FILE);
    let inherited: InheritedLock | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const record: LockRecord = {
        format: "lifeboat-lock",
        host: hostname(),
        pid: process.pid,
        startTime: processStartTime(process.pid),
        operation,
        since: new Date().toISOString(),
        runId: options.runId ?? null,
        children: [],
        // Unfinished undo work of a dead holder stays in the lock until it is done.
        journal: inherited ? [...inherited.journal] : [],
      };
      if (await createExclusive(file, `${JSON.stringify(record)}\n`, target)) return new TargetLock(file, record);

      const text = await readFile(file, "utf8").catch(() => undefined);
      if (text === undefined) continue; // released in between: try again
      const holder = parseLockRecord(text);
      if (holder) {
        if (!holder.finished && holder.host !== hostname()) throw new TargetBusyError(target, describeHolder(holder));
        if (!holder.finished && isRecordedProcessAlive(holder)) throw new TargetBusyError(target, describeHolder(holder));
        const survivors = await killRecordedChildren(holder.children);
        if (survivors.length) {
          throw new TargetBusyError(
            target,
            `${describeHolder(holder)} died, and its processes ${survivors.map((c) => `${c.command} (pid ${c.pid})`).join(", ")} could not be stopped`,
          );
        }
      }
      // A dead holder, or a lock file no version of Lifeboat writes (empty, foreign): take it over.
      const aside = path.join(dir, `.lock-stale-${randomBytes(4).toString("hex")}`);
      try {
        await rename(file, aside);
      } catch {
        continue; // someone else got there first
      }
      const moved = await readFile(aside, "utf8").catch(() => "");
      if (moved !== text) {
        // Not the file we judged stale (another process replaced it meanwhile): put it back untouched.
        await link(aside, file).catch(() => {});
        await unlink(aside).catch(() => {});
        continue;
      }
      await unlink(aside);
      if (holder) inherited = { holder, journal: [...(inherited?.journal ?? []), ...holder.journal] };
    }
    throw new TargetBusyError(target, "the lock could not be taken after several attempts");
  }

  /** Record a child process (called from the spawn hook; written in the background). */
  addChild(child: ChildRecord): void {
    this.update((r) => ({ ...r, children: [...r.children.filter((c) => c.pid !== child.pid), child] }));
  }

  removeChild(pid: number): void {
    this.update((r) => ({ ...r, children: r.children.filter((c) => c.pid !== pid) }));
  }

  /** Record undo work before a risky step; throws if it cannot be recorded (then the step must not run). */
  async journal(entry: Omit<JournalEntry, "id">): Promise<string> {
    const id = randomBytes(6).toString("hex");
    this.update((r) => ({ ...r, journal: [...r.journal, { ...entry, id } as JournalEntry] }));
    await this.flush(true);
    return id;
  }

  /** The undo work is no longer needed (the step finished, or was undone). */
  async resolve(id: string): Promise<void> {
    this.update((r) => ({ ...r, journal: r.journal.filter((e) => e.id !== id) }));
    await this.flush(false);
  }

  get pendingJournal(): JournalEntry[] {
    return [...this.record.journal];
  }

  private update(change: (record: LockRecord) => LockRecord): void {
    if (this.released) return;
    this.record = change(this.record);
    const snapshot = `${JSON.stringify(this.record)}\n`;
    this.writes = this.writes.then(() =>
      replaceFile(this.file, snapshot).then(
        () => {
          this.lastWriteError = undefined;
        },
        (error: unknown) => {
          this.lastWriteError = error as Error;
        },
      ),
    );
  }

  private async flush(strict: boolean): Promise<void> {
    await this.writes;
    if (strict && this.lastWriteError) {
      throw new LifeboatError(
        "LOCK_WRITE_FAILED",
        `Could not record progress in the target's lock file: ${this.lastWriteError.message}`,
        {},
        { cause: this.lastWriteError },
      );
    }
  }

  /**
   * Remove the lock file if it is still ours — unless undo work is still pending in its journal:
   * then it stays, marked finished, so the next operation on the target does that work first.
   */
  async release(): Promise<void> {
    const pending = this.record.journal.length > 0;
    if (pending) this.update((r) => ({ ...r, children: [], finished: true }));
    // No further updates after this point: a late one must not recreate a removed lock file.
    this.released = true;
    await this.writes;
    if (pending) return;
    const current = await readFile(this.file, "utf8").catch(() => undefined);
    const holder = current === undefined ? undefined : parseLockRecord(current);
    if (holder && holder.pid === this.record.pid && holder.host === this.record.host && holder.since === this.record.since) {
      await rm(this.file, { force: true });
    }
  }
}

/** Create `file` with `content` only if it does not exist, never leaving a partial file. */
async function createExclusive(file: string, content: string, target: string): Promise<boolean> {
  const temp = tempPath(path.dirname(file), "lock");
  try {
    await writeFile(temp, content, { mode: FILE_MODE, flag: "wx" });
    await fsyncPath(temp);
    await link(temp, file);
    await fsyncPath(path.dirname(file)).catch(() => undefined);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // EEXIST: held. ENOENT: our temp name was swept by the holder's cleanup; look again.
    if (code === "EEXIST" || code === "ENOENT") return false;
    if (code === "ENOSPC" || code === "EDQUOT") {
      throw new LifeboatError(
        "DISK_FULL",
        `Cannot take the lock of ${target}: the disk holding the repository is full. Free some space and try again.`,
        {},
        { cause: error },
      );
    }
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

function parseLockRecord(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord>;
    if (value.format !== "lifeboat-lock" || typeof value.pid !== "number" || typeof value.host !== "string") return undefined;
    const children = Array.isArray(value.children) ? value.children.filter((c): c is ChildRecord => typeof c?.pid === "number" && c.pid > 1) : [];
    const journal = Array.isArray(value.journal)
      ? value.journal.filter((e): e is JournalEntry => typeof e?.id === "string" && typeof e.action === "string")
      : [];
    return {
      format: "lifeboat-lock",
      host: value.host,
      pid: value.pid,
      startTime: typeof value.startTime === "string" ? value.startTime : undefined,
      operation: typeof value.operation === "string" ? value.operation : "operation",
      since: typeof value.since === "string" ? value.since : "an unknown time",
      runId: typeof value.runId === "number" ? value.runId : null,
      children,
      journal,
      finished: value.finished === true,
    };
  } catch {
    return undefined;
  }
}

function describeHolder(holder: LockRecord): string {
  return `${holder.operation} by pid ${holder.pid} on ${holder.host} since ${holder.since}`;
}

/** What the engine sees of a lock's journal: record undo work before a risky step, resolve it after. */
export type Journal = {
  record: (entry: Omit<JournalEntry, "id">) => Promise<string>;
  resolve: (id: string) => Promise<void>;
};
