import type { NotificationEvent } from "./notify";

type Fields = Record<string, string | number | boolean | null | undefined>;

export type FinishedOperation = {
  kind: string;
  status: "succeeded" | "failed" | "canceled" | "interrupted" | "denied" | "invalid";
  target: string | null;
  runId: number | undefined;
  /** The error, already redacted. */
  error: string | undefined;
  code: string | undefined;
  /** The verdict's fields, already redacted. */
  fields: Fields | undefined;
};

/**
 * The notices a finished operation sends: "failure" when it failed or was interrupted, "drill"
 * for every restore drill that ran (passed or not). Refusals (denied, invalid input) send none:
 * the person who asked sees them at once.
 */
export function operationNotices(op: FinishedOperation, at = new Date()): NotificationEvent[] {
  const notices: NotificationEvent[] = [];
  const target = op.target ?? "an unknown target";
  const what = op.kind.replace(/-/g, " ");
  const title = (verb: string) => `${what.charAt(0).toUpperCase()}${what.slice(1)} of ${target} ${verb}`;
  const again = rerun(op.kind, op.target);
  const common = { target: op.target, runId: op.runId, at };

  if (op.status === "failed" || op.status === "interrupted") {
    const failed = op.status === "failed";
    notices.push({
      ...common,
      event: "failure",
      title: title(failed ? "FAILED" : "INTERRUPTED"),
      text: failed
        ? `The ${what} of ${target} failed: ${sentence(op.error ?? "no reason was given")} Fix the cause and run it again${again}.`
        : `The ${what} of ${target} was interrupted before it finished: ${sentence(op.error ?? "its process stopped")} Run it again${again}.`,
      severity: failed ? "critical" : "warning",
      fields: { operation: op.kind, status: op.status, code: op.code, ...op.fields },
    });
  }

  if (op.kind === "verify" && op.status !== "denied" && op.status !== "invalid") {
    const ok = op.status === "succeeded";
    const stopped = op.status === "canceled" || op.status === "interrupted";
    const rto = [rtoPart("full restore", op.fields?.rto_full_ms), rtoPart("JSON restore", op.fields?.rto_partial_ms), rtoPart("PITR", op.fields?.rto_pitr_ms)]
      .filter(Boolean)
      .join(", ");
    notices.push({
      ...common,
      event: "drill",
      title: `Restore drill of ${target} ${ok ? "passed" : stopped ? op.status.toUpperCase() : "FAILED"}`,
      text: ok
        ? `The backups of ${target} were restored on a throwaway cluster and match what they recorded${rto ? ` (${rto})` : ""}.`
        : stopped
          ? `The restore drill of ${target} was ${op.status} before it finished, so its backups are not verified; run it again${again}.`
          : `The restore drill of ${target} failed: ${sentence(op.error ?? "no reason was given")} Its backups may not restore: take a new backup and look at run ${op.runId ?? "(unrecorded)"}.`,
      // A drill stopped by a person or a signal proved nothing either way: a warning, not an alarm.
      severity: ok ? "info" : stopped ? "warning" : "critical",
      fields: { status: op.status, ...op.fields },
    });
  }
  return notices;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function rtoPart(label: string, ms: Fields[string]): string | undefined {
  return typeof ms === "number" ? `${label} in ${Math.round(ms / 100) / 10} s` : undefined;
}

const RERUN: Record<string, string> = { backup: "npm run backup", verify: "npm run verify", cleanup: "npm run cleanup" };

function rerun(kind: string, target: string | null): string {
  const command = RERUN[kind];
  if (!command) return "";
  return ` (${command}${target ? ` -- --target ${target}` : ""})`;
}
