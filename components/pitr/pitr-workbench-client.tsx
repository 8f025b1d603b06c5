"use client";

import { useEffect, useId, useState, type FormEvent } from "react";
import { discardRecoveredInstance, planPitrMoment, readRecoveredRows, requestPitr } from "@/app/(dashboard)/pitr/actions";
import { RunProgress, type RunView } from "@/components/runs/run-progress-client";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import {
  formatMoment,
  fromLocalInput,
  stretchHolding,
  timeMs,
  toLocalInput,
  utcSeconds,
  type PitrPlanView,
  type PitrRowCount,
  type PitrRunData,
  type PitrTargetView,
  type RecoveredRowsView,
} from "@/lib/web/pitr-view";
import { useBrowserZone } from "./use-zone";

type PlanState = { utc: string; plan?: PitrPlanView; error?: string } | null;

/** Why a moment cannot be submitted, in words (null: it can). */
function refusal(view: PitrTargetView, ms: number | null, zone: string): string | null {
  if (ms === null) return "Pick a date and a time (to the second).";
  const followed = view.timelines.find((t) => t.followed);
  const stretches = followed?.stretches ?? [];
  if (stretchHolding(view, ms)) return null;
  const first = stretches[0];
  const last = stretches.at(-1);
  const range = first && last ? ` Pick a moment between ${formatMoment(first.from.time, zone)} and ${formatMoment(last.to.time, zone)}.` : "";
  if (ms > Date.now()) return `That moment is in the future.${range}`;
  if (first && ms < timeMs(first.from.time)) return `That moment is before the end of the first base backup: nothing older can be recovered.${range}`;
  if (last && ms > timeMs(last.to.time)) return `That moment is after the last archived commit (the WAL after it is not archived yet).${range}`;
  return `That moment falls in a gap of the archive.${range}`;
}

function RowCountsTable({ rows, caption, testId }: { rows: PitrRowCount[]; caption: string; testId: string }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm" data-testid={testId}>
        <caption className="mb-1 text-left text-slate-600 dark:text-slate-400">{caption}</caption>
        <thead>
          <tr className="border-b border-slate-200 dark:border-slate-700">
            <th scope="col" className="py-1 pr-4 font-medium">
              Table
            </th>
            <th scope="col" className="py-1 pr-4 text-right font-medium">
              At that moment
            </th>
            <th scope="col" className="py-1 pr-4 text-right font-medium">
              Live now
            </th>
            <th scope="col" className="py-1 text-right font-medium">
              Difference
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const diff = r.recovered !== null && r.live !== null ? r.recovered - r.live : null;
            return (
              <tr key={r.table} data-table={r.table} className="border-b border-slate-100 dark:border-slate-800">
                <td className="py-1 pr-4 font-mono text-xs">{r.table}</td>
                <td className="py-1 pr-4 text-right tabular-nums" data-testid="count-recovered">
                  {r.recovered ?? "–"}
                </td>
                <td className="py-1 pr-4 text-right tabular-nums" data-testid="count-live">
                  {r.live ?? "–"}
                </td>
                <td className={`py-1 text-right tabular-nums ${diff !== null && diff < 0 ? "font-medium text-red-700 dark:text-red-300" : "text-slate-500"}`}>
                  {diff === null
                    ? r.recovered === null
                      ? "table not there then"
                      : "table not there now"
                    : diff === 0
                      ? "same"
                      : diff < 0
                        ? `loses ${-diff}`
                        : `+${diff}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A recovered instance: its row counts, the first rows of a table, and a way to stop it. */
export function RecoveredInstance({ runId, data, zone, onDiscarded }: { runId: number; data: PitrRunData; zone: string; onDiscarded?: () => void }) {
  const tables = (data.preview ?? []).map((r) => r.table);
  const [table, setTable] = useState(tables[0] ?? "");
  const [rows, setRows] = useState<RecoveredRowsView | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const [stopped, setStopped] = useState(false);
  const selectId = useId();

  const showRows = async () => {
    setBusy(true);
    setMessage(null);
    const result = await readRecoveredRows({ runId, table });
    setBusy(false);
    if (result.ok) setRows(result.data);
    else setMessage({ text: result.error, error: true });
  };
  const discard = async () => {
    setBusy(true);
    const result = await discardRecoveredInstance({ runId });
    setBusy(false);
    setMessage(result.ok ? { text: result.data.message, error: false } : { text: result.error, error: true });
    if (result.ok) {
      setStopped(true);
      setRows(null);
      onDiscarded?.();
    }
  };

  return (
    <div className="mt-4 space-y-4" data-testid="pitr-new-instance" data-port={data.port}>
      <p className="text-sm">
        Recovered into a new instance on <strong>127.0.0.1:{data.port}</strong> (timeline {data.timeline}); the last transaction replayed committed at{" "}
        {data.lastReplayed ? `${formatMoment(data.lastReplayed, zone)} (${zone})` : "— (none after the base backup)"}. It has the target&apos;s roles and
        passwords; the live database was not touched.
      </p>
      {data.warnings.length > 0 ? (
        <ul className="text-sm text-amber-800 dark:text-amber-200">
          {data.warnings.map((w) => (
            <li key={w}>Note: {w}</li>
          ))}
        </ul>
      ) : null}
      {data.preview ? (
        <RowCountsTable
          rows={data.preview}
          testId="pitr-row-counts"
          caption="Rows per table in the recovered instance (at that moment) beside the live database when it finished."
        />
      ) : null}
      {!stopped && tables.length > 0 ? (
        <div className="flex flex-wrap items-end gap-2">
          <div>
            <label htmlFor={selectId} className="block text-sm font-medium">
              Table to look into
            </label>
            <select
              id={selectId}
              value={table}
              onChange={(e) => setTable(e.target.value)}
              className="mt-1 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
            >
              {tables.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </div>
          <Button onClick={showRows} disabled={busy || !table}>
            Show first rows
          </Button>
          <Button variant="danger" onClick={discard} disabled={busy}>
            Stop and remove this instance
          </Button>
        </div>
      ) : null}
      {message ? (
        <p
          role={message.error ? "alert" : "status"}
          className={`text-sm ${message.error ? "text-red-700 dark:text-red-300" : ""}`}
          data-testid="pitr-instance-message"
        >
          {message.text}
        </p>
      ) : null}
      {rows ? (
        <div className="overflow-x-auto">
          <table className="text-left font-mono text-xs" data-testid="pitr-first-rows">
            <caption className="mb-1 text-left font-sans text-sm text-slate-600 dark:text-slate-400">
              First {rows.limit} rows of {rows.table} at that moment{rows.rows.length === 0 ? ": none" : ""}
            </caption>
            <thead>
              <tr className="border-b border-slate-200 dark:border-slate-700">
                {rows.columns.map((c, i) => (
                  <th key={`${c}-${i}`} scope="col" className="py-1 pr-3 font-semibold">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.rows.map((r, i) => (
                <tr key={i} className="border-b border-slate-100 dark:border-slate-800">
                  {r.map((cell, j) => (
                    <td key={j} className="max-w-xs truncate py-1 pr-3" title={cell}>
                      {cell}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

/** Recover in place, after seeing what it loses and typing the database name. */
function InPlace({ view, utc, preview, zone }: { view: PitrTargetView; utc: string; preview: PitrRowCount[] | null; zone: string }) {
  const [typed, setTyped] = useState("");
  const [runId, setRunId] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (typed !== view.database || !preview) return;
    setBusy(true);
    setError(null);
    const result = await requestPitr({ target: view.name, time: utc, mode: "in-place", confirm: typed });
    setBusy(false);
    if (result.ok) setRunId(result.data.runId);
    else setError(result.error);
  };

  return (
    <Card title="Or recover in place" data-testid="pitr-in-place">
      <p className="text-sm">
        Recovering <strong>{view.name}</strong> in place stops its cluster, replaces database <strong>{view.database}</strong> (and every other database of that
        cluster) with its state at {formatMoment(utc, zone)} ({zone}), and starts it again on a new timeline. Everything written after that moment is lost.
        {view.managedHere
          ? null
          : " This dashboard's host does not manage the cluster's data directory: an agent on the database host (npm run agent) carries it out."}
      </p>
      {preview ? (
        <div className="mt-3">
          <RowCountsTable
            rows={preview}
            testId="pitr-loss-table"
            caption="What it will lose: each table's row count now beside its count at that moment (from the new instance above)."
          />
        </div>
      ) : (
        <p className="mt-3 text-sm text-slate-600 dark:text-slate-400" data-testid="pitr-in-place-needs-preview">
          First restore this moment to a new instance (above): the table of what recovering in place would lose, table by table, comes from it.
        </p>
      )}
      {runId === null ? (
        <form onSubmit={submit} className="mt-3 flex flex-wrap items-end gap-2">
          <div>
            <label htmlFor={inputId} className="block text-sm font-medium">
              Type <code>{view.database}</code> to confirm
            </label>
            <input
              id={inputId}
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              autoComplete="off"
              disabled={!preview}
              className="mt-1 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
            />
          </div>
          <Button type="submit" variant="danger" disabled={!preview || typed !== view.database || busy}>
            Recover {view.database} in place
          </Button>
        </form>
      ) : (
        <div className="mt-3">
          <RunProgress runId={runId} />
        </div>
      )}
      {error ? (
        <p role="alert" className="mt-2 text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      ) : null}
    </Card>
  );
}

/** The picker (browser's zone, UTC beside it), the plan for the moment, and the recoveries. */
export function PitrWorkbench({ view, value, onValue }: { view: PitrTargetView; value: string; onValue: (value: string) => void }) {
  const zone = useBrowserZone();
  const ms = fromLocalInput(value);
  const utc = ms === null ? null : utcSeconds(ms);
  const refused = refusal(view, ms, zone);
  const [plan, setPlan] = useState<PlanState>(null);
  const [newRun, setNewRun] = useState<{ runId: number; utc: string } | null>(null);
  const [finished, setFinished] = useState<{ run: RunView; utc: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const stretches = view.timelines.find((t) => t.followed)?.stretches ?? [];
  const min = stretches[0] ? toLocalInput(Math.ceil(timeMs(stretches[0].from.time) / 1000) * 1000, zone) : undefined;
  const max = stretches.at(-1) ? toLocalInput(Math.floor(timeMs(stretches.at(-1)!.to.time) / 1000) * 1000, zone) : undefined;

  // The plan for the moment, from the server (which also says why a moment cannot be reached).
  useEffect(() => {
    if (!utc) return;
    let current = true;
    const timer = setTimeout(async () => {
      const result = await planPitrMoment({ target: view.name, time: utc, mode: "new-instance" });
      if (!current) return;
      setPlan(result.ok ? { utc, plan: result.data } : { utc, error: result.error });
    }, 400);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [utc, view.name]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (refused || !utc) return;
    setBusy(true);
    setError(null);
    setFinished(null);
    const result = await requestPitr({ target: view.name, time: utc, mode: "new-instance" });
    setBusy(false);
    if (result.ok) setNewRun({ runId: result.data.runId, utc });
    else setError(result.error);
  };

  const shownPlan = plan && plan.utc === utc ? plan : null;
  const finishedData = finished?.run.status === "succeeded" ? ((finished.run.result as { data?: PitrRunData } | null)?.data ?? null) : null;
  const previewForMoment = finishedData && finished?.utc === utc ? finishedData.preview : null;

  return (
    <>
      <Card title="Recover to a moment" data-testid="pitr-workbench">
        <form onSubmit={submit} className="space-y-3" noValidate>
          <div className="flex flex-wrap items-end gap-x-4 gap-y-2">
            <div>
              <label htmlFor={inputId} className="block text-sm font-medium">
                Moment ({zone})
              </label>
              <input
                id={inputId}
                type="datetime-local"
                step={1}
                min={min}
                max={max}
                value={value}
                onChange={(e) => onValue(e.target.value)}
                aria-describedby={`${inputId}-utc ${inputId}-why`}
                className="mt-1 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
              />
            </div>
            <p id={`${inputId}-utc`} className="pb-2 text-sm text-slate-600 dark:text-slate-400" data-testid="pitr-utc">
              {utc ? (
                <>
                  UTC: <time dateTime={utc}>{utc}</time>
                </>
              ) : (
                "UTC: —"
              )}
            </p>
          </div>
          <p className="text-xs text-slate-500">You can also click the timeline above to pick a moment.</p>
          {value && refused ? (
            <p id={`${inputId}-why`} role="alert" className="text-sm text-red-700 dark:text-red-300" data-testid="pitr-refused">
              {refused}
            </p>
          ) : (
            <span id={`${inputId}-why`} />
          )}

          <div aria-live="polite" data-testid="pitr-plan">
            {shownPlan?.plan ? (
              <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                <dt className="font-medium">Base backup</dt>
                <dd data-testid="pitr-plan-base">
                  {shownPlan.plan.base.artifact} (ended {formatMoment(shownPlan.plan.base.finishedAt, zone)}, WAL {shownPlan.plan.base.walStartLsn ?? "?"}–
                  {shownPlan.plan.base.walStopLsn ?? "?"}, timeline {shownPlan.plan.base.timeline ?? "?"})
                </dd>
                <dt className="font-medium">WAL to replay</dt>
                <dd data-testid="pitr-plan-wal" className="break-words">
                  from {shownPlan.plan.wal.fromLsn} to {shownPlan.plan.wal.targetLsn ?? "the first commit after the moment"} on timeline{" "}
                  {shownPlan.plan.wal.timeline}: segments <code className="break-all">{shownPlan.plan.wal.firstSegment}</code>
                  {shownPlan.plan.wal.segments > 1 ? (
                    <>
                      {" … "}
                      <code className="break-all">{shownPlan.plan.wal.lastSegment}</code>
                    </>
                  ) : null}{" "}
                  (at most {shownPlan.plan.wal.segments}); the archive reaches {shownPlan.plan.wal.archiveReaches.lsn}, last commit{" "}
                  {formatMoment(shownPlan.plan.wal.archiveReaches.time, zone)}.
                </dd>
              </dl>
            ) : shownPlan?.error ? (
              <p className="text-sm text-red-700 dark:text-red-300" data-testid="pitr-plan-refused">
                The server: {shownPlan.error}
              </p>
            ) : utc ? (
              <p className="text-sm text-slate-500">Planning…</p>
            ) : null}
          </div>

          <Button type="submit" variant="primary" disabled={Boolean(refused) || busy}>
            Restore to a new instance
          </Button>
          {error ? (
            <p role="alert" className="text-sm text-red-700 dark:text-red-300" data-testid="pitr-request-error">
              {error}
            </p>
          ) : null}
        </form>

        {newRun ? (
          <div className="mt-4 border-t border-slate-200 pt-4 dark:border-slate-800">
            <p className="mb-1 text-sm">
              Restoring {view.name} as of {formatMoment(newRun.utc, zone)} ({zone}) into a new instance:
            </p>
            <RunProgress key={newRun.runId} runId={newRun.runId} onFinished={(run) => setFinished({ run, utc: newRun.utc })} />
            {finished && finishedData ? <RecoveredInstance key={finished.run.id} runId={finished.run.id} data={finishedData} zone={zone} /> : null}
          </div>
        ) : null}
      </Card>

      {utc && !refused ? <InPlace key={utc} view={view} utc={utc} preview={previewForMoment} zone={zone} /> : null}
    </>
  );
}
