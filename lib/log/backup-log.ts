import { statSync } from "node:fs";
import { appendFile, chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import pino, { type Logger } from "pino";
import { redactSecrets } from "@/lib/engine/pg/connection";

export type LogLevel = "INFO" | "WARN" | "ERROR";
type Fields = Record<string, string | number | boolean | null | undefined>;

/**
 * logs/backup.log: one line per operation, as the seed expects (`tail -f logs/backup.log`,
 * `grep "ERROR\|FAILED"`). Failures carry both ERROR and FAILED. Secrets are redacted.
 * The same entry also goes, as one JSON object a line, to logs/lifeboat.jsonl (pino) for machines.
 */
export class BackupLog {
  constructor(
    readonly dir: string,
    private readonly secrets: readonly (string | undefined)[] = [],
  ) {}

  get file(): string {
    return path.join(this.dir, "backup.log");
  }

  get jsonFile(): string {
    return path.join(this.dir, "lifeboat.jsonl");
  }

  async write(level: LogLevel, operation: string, fields: Fields): Promise<void> {
    const at = new Date().toISOString();
    // Each value is redacted before it is quoted or serialized: escaping would otherwise hide a
    // secret holding a quote or a backslash from a redaction of the finished line.
    const redact = (value: string) => redactSecrets(value, this.secrets);
    const kept = Object.entries(fields).filter(([, v]) => v !== undefined && v !== null && v !== "");
    const parts = kept.map(([k, v]) => `${k}=${formatValue(redact(String(v)))}`);
    const line = `${at} ${level} ${operation} ${parts.join(" ")}`.trimEnd();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await appendFile(this.file, `${redactSecrets(line.replace(/[\r\n]+/g, " "), this.secrets)}\n`, { mode: 0o600 });
    await chmod(this.file, 0o600);

    const entry: Record<string, string | number | boolean> = { time: at, event: redact(operation) };
    for (const [key, value] of kept) entry[RESERVED.has(key) ? `field_${key}` : key] = typeof value === "string" ? redact(value) : value!;
    writeJsonLine(this.jsonFile, level, entry);
    await chmod(this.jsonFile, 0o600);
  }
}

/** Keys the JSON line itself uses; a field of the same name is written as field_<name>. */
const RESERVED = new Set(["time", "level", "event", "msg"]);

const PINO_LEVEL = { INFO: "info", WARN: "warn", ERROR: "error" } as const;

type JsonDestination = { logger: Logger; destination: ReturnType<typeof pino.destination>; inode: string | undefined; error: Error | undefined };
const jsonDestinations = new Map<string, JsonDestination>();

/**
 * One synchronous pino destination per file, shared by every BackupLog of the process (no worker
 * thread transports: they break under Next.js and tsx). The file is reopened when it was removed
 * or rotated away (renamed), so lines never go to a file nobody can see.
 */
function writeJsonLine(file: string, level: LogLevel, entry: Record<string, string | number | boolean>): void {
  let current = jsonDestinations.get(file);
  if (!current) {
    const destination = pino.destination({ dest: file, sync: true, mkdir: true, mode: 0o600 });
    // level as its name ("error"), no pid/hostname, and the time from the entry (the text line's instant).
    const logger = pino({ base: null, timestamp: false, formatters: { level: (label) => ({ level: label }) } }, destination);
    const created: JsonDestination = { logger, destination, inode: inodeOf(file), error: undefined };
    destination.on("error", (error: Error) => (created.error = error));
    jsonDestinations.set(file, created);
    current = created;
  } else if (current.inode === undefined || current.inode !== inodeOf(file)) {
    current.destination.reopen();
    current.inode = inodeOf(file);
  }
  current.error = undefined;
  current.logger[PINO_LEVEL[level]](entry);
  const failure = current.error as Error | undefined;
  if (failure) throw new Error(`could not write ${file}: ${failure.message}`);
}

function inodeOf(file: string): string | undefined {
  try {
    const { dev, ino } = statSync(file);
    return `${dev}:${ino}`;
  } catch {
    return undefined;
  }
}

function formatValue(value: string): string {
  return /^[\w./:@+-]*$/.test(value) ? value : JSON.stringify(value);
}
