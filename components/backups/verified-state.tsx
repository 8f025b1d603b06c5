import { StateBadge } from "@/components/ui/state-badge";
import { formatUtc } from "./format";

/** Never verified, verified at a time, or failed its last check at a time. */
export function VerifiedState({ verifiedAt, verifyStatus }: { verifiedAt: Date | null; verifyStatus: string | null }) {
  if (!verifyStatus || !verifiedAt) return <span className="text-slate-500 dark:text-slate-400">never</span>;
  const failed = verifyStatus !== "ok";
  return (
    <span className="inline-flex flex-wrap items-center gap-1">
      <StateBadge state={failed ? "failed" : "ok"} label={failed ? "failed" : "verified"} />
      <time dateTime={verifiedAt.toISOString()} className="text-xs text-slate-500 dark:text-slate-400">
        {formatUtc(verifiedAt, { seconds: false })}
      </time>
    </span>
  );
}
