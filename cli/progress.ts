import { formatBytes } from "@/lib/format";

/** One self-overwriting status line on a TTY (phase, bytes, rate); silent otherwise. */
export class ProgressLine {
  private started = Date.now();
  private lastKey = "";
  private visible = false;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(label: string, phase: string, bytes?: number, rows?: number): void {
    if (!this.stream.isTTY) return;
    const key = `${label}:${phase}`;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.started = Date.now();
    }
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const amount = bytes !== undefined ? ` ${formatBytes(bytes)} (${formatBytes(bytes / seconds)}/s)` : rows !== undefined ? ` ${rows} rows` : "";
    this.stream.write(`\r\x1b[2K[${label}] ${phase}${amount}`);
    this.visible = true;
  }

  clear(): void {
    if (this.visible && this.stream.isTTY) this.stream.write("\r\x1b[2K");
    this.visible = false;
  }
}
