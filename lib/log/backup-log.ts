import { appendFile, chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import { redactSecrets } from "@/lib/engine/pg/connection";

export type LogLevel = "INFO" | "WARN" | "ERROR";

/**
 * logs/backup.log: one line per operation, as the seed expects (`tail -f logs/backup.log`,
 * `grep "ERROR\|FAILED"`). Failures carry both ERROR and FAILED. Secrets are redacted.
 */
export class BackupLog {
  constructor(
    readonly dir: string,
    private readonly secrets: readonly (string | undefined)[] = [],
  ) {}

  get file(): string {
    return path.join(this.dir, "backup.log");
  }

  async write(level: LogLevel, operation: string, fields: Record<string, string | number | boolean | null | undefined>): Promise<void> {
    const parts = Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => `${k}=${formatValue(String(v))}`);
    const line = `${new Date().toISOString()} ${level} ${operation} ${parts.join(" ")}`.trimEnd();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await appendFile(this.file, `${redactSecrets(line.replace(/[\r\n]+/g, " "), this.secrets)}\n`, { mode: 0o600 });
    await chmod(this.file, 0o600);
  }
}

function formatValue(value: string): string {
  return /^[\w./:@+-]*$/.test(value) ? value : JSON.stringify(value);
}
