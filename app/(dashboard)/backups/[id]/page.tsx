import Link from "next/link";
import { notFound } from "next/navigation";
import { formatDuration, formatUtc } from "@/components/backups/format";
import { KIND_NAMES } from "@/components/backups/history-filters";
import { RestoreButton } from "@/components/backups/restore-dialog-client";
import { VerifiedState } from "@/components/backups/verified-state";
import { Card } from "@/components/ui/card";
import { Forbidden } from "@/components/ui/forbidden";
import { PageHeader } from "@/components/ui/page-header";
import { StateBadge } from "@/components/ui/state-badge";
import { can } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { getEnv } from "@/lib/env";
import { formatBytes } from "@/lib/format";
import { getBackupDetail, runLogLines } from "@/lib/web/backup-history";
import { requirePageUser } from "@/lib/web/page-user";

export const dynamic = "force-dynamic";

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-slate-500 dark:text-slate-400">{label}</dt>
      <dd className="font-medium break-words">{children}</dd>
    </div>
  );
}

export default async function BackupDetailPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requirePageUser();
  if (!can(user, "backups.read")) return <Forbidden permission="backups.read" role={user.role} />;
  const id = Number((await params).id);
  if (!Number.isSafeInteger(id) || id < 1) notFound();
  const detail = await getBackupDetail(await getDb(), id);
  if (!detail) notFound();
  const { manifest, run } = detail;
  const logLines = run ? await runLogLines(getEnv().LOG_DIR, run.id) : null;
  const downloadable = detail.kind !== "base" && !detail.fileName.endsWith(".dir") && detail.status === "available";
  const restorable = (detail.kind === "full" || detail.kind === "json") && detail.status === "available";
  const rowCounts = Object.entries(manifest?.tableRowCounts ?? {}).sort(([a], [b]) => a.localeCompare(b));

  return (
    <>
      <p className="mb-2 text-sm">
        <Link href="/backups" className="underline underline-offset-2">
          ← Backups
        </Link>
      </p>
      <PageHeader
        title={`${KIND_NAMES[detail.kind]} of ${detail.target}`}
        description={<span className="font-mono break-all">{detail.fileName}</span>}
        actions={
          <div className="flex flex-wrap gap-2">
            {can(user, "backups.download") && downloadable ? (
              <a
                href={`/api/backups/${detail.id}/download`}
                download
                className="inline-flex items-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-100 dark:border-slate-700 dark:bg-slate-900 dark:hover:bg-slate-800"
              >
                Download ({formatBytes(detail.sizeBytes)})
              </a>
            ) : null}
            {can(user, "backups.restore") && restorable ? <RestoreButton backupId={detail.id} label={`Restore ${detail.fileName}`} variant="danger" /> : null}
          </div>
        }
      />
      <div className="space-y-6">
        <Card title="Summary">
          <dl className="grid grid-cols-2 gap-x-6 gap-y-3 text-sm sm:grid-cols-4">
            <Fact label="Status">
              <StateBadge state={detail.status} />
            </Fact>
            <Fact label="Verified">
              <VerifiedState verifiedAt={detail.verifiedAt} verifyStatus={detail.verifyStatus} />
            </Fact>
            <Fact label="Size">{formatBytes(detail.sizeBytes)}</Fact>
            <Fact label="Duration">{formatDuration(detail.finishedAt.getTime() - detail.startedAt.getTime())}</Fact>
            <Fact label="Started">{formatUtc(detail.startedAt)}</Fact>
            <Fact label="Finished">{formatUtc(detail.finishedAt)}</Fact>
            <Fact label="Server">{manifest ? `PostgreSQL ${manifest.serverVersion}` : "–"}</Fact>
            <Fact label="Database">{manifest?.database ?? "–"}</Fact>
            <Fact label="Compression">{manifest?.compression ?? "–"}</Fact>
            <Fact label="Encryption">{manifest?.encryption ? `age, ${manifest.encryption.recipients.length} recipient(s)` : "none"}</Fact>
            {manifest?.walStartLsn ? (
              <Fact label="WAL">
                {manifest.walStartLsn} → {manifest.walStopLsn ?? "?"} (timeline {manifest.timeline ?? "?"})
              </Fact>
            ) : null}
            {manifest?.restorePoint ? <Fact label="Restore point">{manifest.restorePoint}</Fact> : null}
            <Fact label="Tools">
              {manifest
                ? Object.entries(manifest.toolVersions)
                    .map(([tool, version]) => `${tool} ${version}`)
                    .join(", ") || "–"
                : "–"}
            </Fact>
          </dl>
          {!manifest ? (
            <p role="alert" className="mt-3 text-sm text-red-700 dark:text-red-300">
              The catalog&apos;s copy of this manifest does not parse; rescan the repository (npm run backup:list -- --rescan).
            </p>
          ) : null}
          {manifest?.notes?.length ? (
            <ul className="mt-3 list-disc pl-5 text-sm text-slate-600 dark:text-slate-300">
              {manifest.notes.map((note) => (
                <li key={note}>{note}</li>
              ))}
            </ul>
          ) : null}
        </Card>

        <Card title={`Files (${manifest?.files.length ?? 0})`}>
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" data-testid="manifest-files">
              <thead className="text-slate-600 dark:text-slate-300">
                <tr>
                  <th scope="col" className="py-1 pr-3 font-medium">
                    File
                  </th>
                  <th scope="col" className="py-1 pr-3 text-right font-medium">
                    Size
                  </th>
                  <th scope="col" className="py-1 font-medium">
                    sha256
                  </th>
                </tr>
              </thead>
              <tbody>
                {manifest?.files.map((file) => (
                  <tr key={file.name} className="border-t border-slate-100 align-top dark:border-slate-800">
                    <td className="py-1 pr-3 font-mono text-xs break-all">{file.name}</td>
                    <td className="py-1 pr-3 text-right whitespace-nowrap tabular-nums">{formatBytes(file.size)}</td>
                    <td className="py-1 font-mono text-xs break-all text-slate-600 dark:text-slate-300">{file.sha256}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>

        {rowCounts.length ? (
          <Card title={`Row counts (${rowCounts.length} tables, taken in the backup's snapshot)`}>
            <table className="w-full max-w-md text-left text-sm" data-testid="manifest-row-counts">
              <thead className="text-slate-600 dark:text-slate-300">
                <tr>
                  <th scope="col" className="py-1 pr-3 font-medium">
                    Table
                  </th>
                  <th scope="col" className="py-1 text-right font-medium">
                    Rows
                  </th>
                </tr>
              </thead>
              <tbody>
                {rowCounts.map(([table, rows]) => (
                  <tr key={table} className="border-t border-slate-100 dark:border-slate-800">
                    <td className="py-1 pr-3 font-mono text-xs">{table}</td>
                    <td className="py-1 text-right tabular-nums">{rows}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
        ) : null}

        <Card title="Run and log">
          {run ? (
            <dl className="grid grid-cols-2 gap-x-6 gap-y-3 text-sm sm:grid-cols-4">
              <Fact label="Run">{run.id}</Fact>
              <Fact label="Outcome">
                <StateBadge state={run.status} />
              </Fact>
              <Fact label="Started by">{run.triggeredBy}</Fact>
              <Fact label="Run duration">{formatDuration(run.durationMs)}</Fact>
              {run.error ? (
                <div className="col-span-full">
                  <dt className="text-slate-500 dark:text-slate-400">Error</dt>
                  <dd className="text-red-700 dark:text-red-300">{run.error}</dd>
                </div>
              ) : null}
            </dl>
          ) : (
            <p className="text-sm text-slate-500 dark:text-slate-400">No run is recorded for this backup (it was indexed by a rescan of the repository).</p>
          )}
          {run ? (
            logLines === null ? (
              <p className="mt-3 text-sm text-slate-500 dark:text-slate-400">There is no logs/backup.log on this server (the worker may write it on another host).</p>
            ) : logLines.length ? (
              <pre data-testid="run-log" className="mt-3 overflow-x-auto rounded-md bg-slate-100 p-3 text-xs whitespace-pre-wrap dark:bg-slate-950">
                {logLines.join("\n")}
              </pre>
            ) : (
              <p className="mt-3 text-sm text-slate-500 dark:text-slate-400">logs/backup.log holds no line for run {run.id} (it may have been rotated).</p>
            )
          ) : null}
          {run?.stderr && can(user, "audit.read") ? (
            <details className="mt-3 text-sm">
              <summary className="cursor-pointer">Tool output (admins)</summary>
              <pre className="mt-2 overflow-x-auto rounded-md bg-slate-100 p-3 text-xs whitespace-pre-wrap dark:bg-slate-950">{run.stderr}</pre>
            </details>
          ) : null}
        </Card>
      </div>
    </>
  );
}
