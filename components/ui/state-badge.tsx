const STYLES: Record<string, string> = {
  ok: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
  succeeded: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
  available: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
  warning: "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-100",
  queued: "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
  running: "bg-sky-100 text-sky-800 dark:bg-sky-900/60 dark:text-sky-100",
  critical: "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100",
  failed: "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100",
  damaged: "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100",
  interrupted: "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100",
  canceled: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
};

/** A state word in its colour (the word is always there: colour is never the only signal). */
export function StateBadge({ state, label }: { state: string; label?: string }) {
  return (
    <span data-state={state} className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ${STYLES[state] ?? STYLES.queued}`}>
      {label ?? state}
    </span>
  );
}
