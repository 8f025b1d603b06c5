"use client";

import { useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useId, useRef, useState, useTransition, type FormEvent } from "react";
import { queueRestoreFull, queueRestoreJson } from "@/app/(dashboard)/backups/actions";
import { RunProgress, type RunView } from "@/components/runs/run-progress-client";
import { Button } from "@/components/ui/button";
import { StateBadge } from "@/components/ui/state-badge";
import type { RestorePlan } from "@/lib/web/restore-plan";
import { formatUtc } from "./format";

/** A restore control for one backup (admins only are given it; the server action checks anyway). */
export function RestoreButton({ backupId, label, variant = "secondary" }: { backupId: number; label: string; variant?: "secondary" | "danger" }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button variant={variant} aria-haspopup="dialog" aria-label={label} onClick={() => setOpen(true)}>
        Restore…
      </Button>
      {open ? <RestoreDialog backupId={backupId} onClose={() => setOpen(false)} /> : null}
    </>
  );
}

/** "a, b, c and 9 more": a long table list stays readable. */
function listSome(names: string[], shown = 12): string {
  return names.length <= shown ? names.join(", ") : `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}

const field = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";

function RestoreDialog({ backupId, onClose }: { backupId: number; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const router = useRouter();
  const [runId, setRunId] = useState<number | null>(null);
  const plan = useQuery({
    queryKey: ["restore-plan", backupId],
    queryFn: async (): Promise<RestorePlan> => {
      const response = await fetch(`/api/backups/${backupId}`, { cache: "no-store" });
      const body = (await response.json()) as RestorePlan & { error?: string };
      if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
      return body;
    },
  });

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);

  const close = () => {
    ref.current?.close();
    // A restore that ran changed what the pages show (row counts, the run list).
    if (runId !== null) router.refresh();
    onClose();
  };

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        close();
      }}
      className="m-auto w-[min(42rem,calc(100vw-2rem))] rounded-xl border border-slate-200 bg-white p-0 text-left text-slate-900 shadow-xl backdrop:bg-slate-900/50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100"
    >
      <div className="max-h-[85vh] overflow-y-auto p-5">
        <div className="mb-3 flex items-start justify-between gap-3">
          <h2 id={titleId} className="text-lg font-semibold">
            Restore {plan.data ? plan.data.fileName : "backup"}
          </h2>
          <Button onClick={close} aria-label="Close">
            Close
          </Button>
        </div>
        {plan.isPending ? <p aria-busy="true">Reading the backup…</p> : null}
        {plan.error ? (
          <p role="alert" className="text-red-700 dark:text-red-300">
            {plan.error.message}
          </p>
        ) : null}
        {plan.data && runId === null ? <RestoreForm plan={plan.data} onQueued={setRunId} onCancel={close} /> : null}
        {plan.data && runId !== null ? <RestoreRun plan={plan.data} runId={runId} /> : null}
      </div>
    </dialog>
  );
}

function RestoreForm({ plan, onQueued, onCancel }: { plan: RestorePlan; onQueued: (runId: number) => void; onCancel: () => void }) {
  const [mode, setMode] = useState<"in-place" | "new">("in-place");
  const [newName, setNewName] = useState(`${plan.confirmDatabase}_restored`.slice(0, 63));
  const [typed, setTyped] = useState("");
  const [tables, setTables] = useState<string[]>(plan.tables.map((t) => t.table));
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const isJson = plan.kind === "json";
  const overwrites = isJson || mode === "in-place";
  // The restore operation's confirmation names the database to type; into a new database nothing is overwritten.
  const confirmed = !overwrites || typed === plan.confirmDatabase;
  const newNameProblem =
    mode === "new" && !isJson
      ? !newName.trim()
        ? "Give the new database a name."
        : newName.length > 63
          ? "At most 63 characters (PostgreSQL's limit)."
          : newName === plan.confirmDatabase
            ? `That is the target's own database; choose "in place" to overwrite it.`
            : null
      : null;
  const canSubmit = confirmed && !newNameProblem && (!isJson || tables.length > 0) && !pending;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!canSubmit) return;
    setError(null);
    startTransition(async () => {
      const base = { target: plan.target, file: plan.fileName };
      const result = isJson
        ? await queueRestoreJson({ ...base, tables: tables.length === plan.tables.length ? undefined : tables, confirm: typed })
        : mode === "in-place"
          ? await queueRestoreFull({ ...base, confirm: typed })
          : await queueRestoreFull({ ...base, into: newName.trim() });
      if (result.ok) onQueued(result.data.runId);
      else setError(result.error);
    });
  };

  const toggle = (table: string, on: boolean) => setTables((current) => (on ? [...current, table] : current.filter((t) => t !== table)));

  return (
    <form onSubmit={submit} className="space-y-4 text-sm">
      <p>
        Target <strong>{plan.target}</strong>, database <strong>{plan.confirmDatabase}</strong>. Backup taken {formatUtc(plan.startedAt)}.
      </p>

      {isJson ? (
        <fieldset>
          <legend className="font-medium">Tables to restore</legend>
          <p className="text-slate-500 dark:text-slate-400">
            Each chosen table is made equal to the export: rows missing from it are deleted, the others inserted or updated by primary key. Tables not chosen are
            not touched; if that would break a foreign key, nothing is changed and the reason is shown.
          </p>
          <div className="mt-2 flex gap-3">
            <button type="button" className="underline underline-offset-2" onClick={() => setTables(plan.tables.map((t) => t.table))}>
              All
            </button>
            <button type="button" className="underline underline-offset-2" onClick={() => setTables([])}>
              None
            </button>
          </div>
          <ul className="mt-2 grid gap-1 sm:grid-cols-2">
            {plan.tables.map((t) => (
              <li key={t.table}>
                <label className="inline-flex items-center gap-2">
                  <input type="checkbox" checked={tables.includes(t.table)} onChange={(e) => toggle(t.table, e.target.checked)} />
                  <span className="font-mono">{t.table}</span>
                  <span className="text-slate-500 dark:text-slate-400">{t.rows} rows</span>
                </label>
              </li>
            ))}
          </ul>
          {tables.length === 0 ? <p className="mt-1 text-amber-700 dark:text-amber-300">Choose at least one table.</p> : null}
        </fieldset>
      ) : (
        <fieldset className="space-y-2">
          <legend className="font-medium">Where to restore</legend>
          <label className="flex items-start gap-2">
            <input type="radio" name="mode" value="in-place" checked={mode === "in-place"} onChange={() => setMode("in-place")} className="mt-1" />
            <span>
              In place: replace database <strong>{plan.confirmDatabase}</strong>
            </span>
          </label>
          <label className="flex items-start gap-2">
            <input type="radio" name="mode" value="new" checked={mode === "new"} onChange={() => setMode("new")} className="mt-1" />
            <span>Into a new database (nothing existing is changed)</span>
          </label>
          {mode === "new" ? (
            <label className="block pl-6">
              New database name
              <input value={newName} onChange={(e) => setNewName(e.target.value)} maxLength={63} required className={field} autoComplete="off" />
              {newNameProblem ? <span className="mt-1 block text-amber-700 dark:text-amber-300">{newNameProblem}</span> : null}
            </label>
          ) : null}
        </fieldset>
      )}

      {overwrites ? (
        <div role="note" className="rounded-md border border-red-300 bg-red-50 p-3 dark:border-red-800 dark:bg-red-950">
          <p className="font-medium">What will be overwritten</p>
          {isJson ? (
            <p className="mt-1">
              In database <strong>{plan.confirmDatabase}</strong> on target <strong>{plan.target}</strong>:{" "}
              {tables.length === plan.tables.length ? "every table of the export" : listSome(tables) || "no table yet"}. Rows written since{" "}
              {formatUtc(plan.startedAt)} in {tables.length === 1 ? "that table" : "those tables"} are lost.
            </p>
          ) : (
            <p className="mt-1">
              Database <strong>{plan.confirmDatabase}</strong> on target <strong>{plan.target}</strong>: every object in the backup ({plan.tables.length} tables:{" "}
              {listSome(plan.tables.map((t) => t.table))}) is dropped and recreated with the backup&apos;s rows, in one transaction. Everything written since{" "}
              {formatUtc(plan.startedAt)} is lost. Objects that are not in the backup stay as they are.
            </p>
          )}
          <label className="mt-3 block">
            Type <strong className="font-mono">{plan.confirmDatabase}</strong> to confirm
            <input
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              aria-label={`Type ${plan.confirmDatabase} to confirm`}
              aria-invalid={typed !== "" && !confirmed}
              autoComplete="off"
              spellCheck={false}
              className={field}
            />
          </label>
          {typed !== "" && !confirmed ? <p className="mt-1 text-red-700 dark:text-red-300">That is not the database name.</p> : null}
        </div>
      ) : null}

      {error ? (
        <p role="alert" className="text-red-700 dark:text-red-300">
          {error}
        </p>
      ) : null}
      <div className="flex flex-wrap justify-end gap-2">
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant={overwrites ? "danger" : "primary"} disabled={!canSubmit}>
          {pending ? "Queuing…" : overwrites ? `Restore over ${plan.confirmDatabase}` : `Restore into ${newName.trim() || "…"}`}
        </Button>
      </div>
    </form>
  );
}

type RowCountCheck = { table: string; expected?: number; actual?: number; ok: boolean };
type JsonTableResult = { table: string; rows: number; deleted: number; upserted: number };

/** Live progress, then each table's rows against the manifest (or the failure, in words). */
function RestoreRun({ plan, runId }: { plan: RestorePlan; runId: number }) {
  const [finished, setFinished] = useState<RunView | null>(null);
  const data = (finished?.result as { data?: { rowCounts?: RowCountCheck[]; tables?: JsonTableResult[]; database?: string } } | null)?.data;
  const manifestRows = new Map(plan.tables.map((t) => [t.table, t.rows]));
  const checks: RowCountCheck[] =
    data?.rowCounts ??
    (data?.tables ?? []).map((t) => {
      const expected = manifestRows.get(t.table) ?? [...manifestRows].find(([name]) => name.endsWith(`.${t.table}`))?.[1];
      return { table: t.table, expected, actual: t.rows, ok: expected === t.rows };
    });
  const refusedByForeignKey = finished?.error && /was not chosen|foreign key|still reference/i.test(finished.error);
  return (
    <div className="space-y-4 text-sm">
      <RunProgress runId={runId} onFinished={setFinished} />
      {refusedByForeignKey ? (
        <p className="rounded-md border border-amber-300 bg-amber-50 p-3 dark:border-amber-800 dark:bg-amber-950" data-testid="fk-refusal">
          Nothing was changed: a table you did not choose still points at rows this restore would remove. Choose that table too, or restore every table.
        </p>
      ) : null}
      {finished && checks.length ? (
        <table className="w-full text-left" data-testid="restore-row-counts">
          <caption className="mb-1 text-left font-medium">
            Rows per table{data?.database ? ` in ${data.database}` : ""}, against the backup&apos;s manifest
          </caption>
          <thead className="text-slate-600 dark:text-slate-300">
            <tr>
              <th scope="col" className="py-1 pr-3 font-medium">
                Table
              </th>
              <th scope="col" className="py-1 pr-3 text-right font-medium">
                In the backup
              </th>
              <th scope="col" className="py-1 pr-3 text-right font-medium">
                Restored
              </th>
              <th scope="col" className="py-1 font-medium">
                <span className="sr-only">Match</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {checks.map((c) => (
              <tr key={c.table} data-testid="restore-row-count" data-table={c.table} className="border-t border-slate-100 dark:border-slate-800">
                <td className="py-1 pr-3 font-mono">{c.table}</td>
                <td className="py-1 pr-3 text-right tabular-nums">{c.expected ?? "–"}</td>
                <td className="py-1 pr-3 text-right tabular-nums">{c.actual ?? "–"}</td>
                <td className="py-1">
                  <StateBadge state={c.ok ? "ok" : "failed"} label={c.ok ? "match" : "differs"} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
