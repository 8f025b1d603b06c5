"use client";

import type { ReactNode } from "react";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatBytes } from "@/lib/format";
import { formatSpan } from "@/lib/web/overview-format";
import type { BackupPoint, DiskForecast, DrillPoint, SegmentAgePoint, WalHour } from "@/lib/web/health-data";

/** One colour per backup kind, readable on the light and the dark background. */
const KIND_COLOURS: Record<string, string> = { full: "#2563eb", schema: "#9333ea", json: "#059669", env: "#d97706", base: "#dc2626" };
const KIND_NAMES: Record<string, string> = { full: "Full dump", schema: "Schema", json: "JSON export", env: "Environment", base: "Base backup" };

const axis = { stroke: "currentColor", tick: { fill: "currentColor", fontSize: 11 } } as const;
const tooltipStyle = { contentStyle: { background: "var(--tooltip-bg, #fff)", color: "#0f172a", fontSize: 12, borderRadius: 6 } } as const;

const day = (t: number) => new Date(t).toISOString().slice(5, 10);
const dayTime = (t: number) => `${new Date(t).toISOString().slice(5, 16).replace("T", " ")}Z`;
const clock = (t: number) => `${new Date(t).toISOString().slice(11, 19)}Z`;
const hourLabel = (t: number) => `${new Date(t).toISOString().slice(11, 13)}:00`;

/** Time ticks as fine as the data needs: seconds within an hour, hours within two days, days beyond. */
function timeTicks(points: { t: number }[]): (t: number) => string {
  const times = points.map((p) => p.t);
  const span = times.length ? Math.max(...times) - Math.min(...times) : 0;
  return span < 3600_000 ? clock : span < 2 * 24 * 3600_000 ? dayTime : day;
}

/** Durations on an axis: tenths of a second where seconds would repeat the same label. */
function fineSpan(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatSpan(ms);
}

/** A chart's frame: a label for screen readers, and a fixed height that fits a phone. */
function Frame({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div data-testid={`chart-${id}`} role="img" aria-label={label} className="h-60 w-full text-slate-500 dark:text-slate-400">
      <ResponsiveContainer width="100%" height="100%" minWidth={0}>
        {children as React.ReactElement}
      </ResponsiveContainer>
    </div>
  );
}

/** Size (or duration) of each kind's backups over time: one line per kind. */
export function BackupSeriesChart({ series, measure }: { series: Partial<Record<string, BackupPoint[]>>; measure: "size" | "duration" }) {
  const kinds = Object.keys(series).filter((k) => series[k]?.length);
  const ticks = timeTicks(kinds.flatMap((k) => series[k]!));
  const key = measure === "size" ? "sizeBytes" : "durationMs";
  const format = measure === "size" ? formatBytes : fineSpan;
  return (
    <Frame
      id={`backup-${measure}`}
      label={`${measure === "size" ? "Backup size" : "Backup duration"} over time for ${kinds.map((k) => KIND_NAMES[k] ?? k).join(", ")}`}
    >
      <LineChart margin={{ top: 8, right: 12, bottom: 0, left: 4 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.25} />
        <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={ticks} {...axis} />
        <YAxis dataKey={key} tickFormatter={format} width={80} {...axis} />
        <Tooltip labelFormatter={(t) => dayTime(Number(t))} formatter={(value) => format(Number(value))} {...tooltipStyle} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        {kinds.map((kind) => (
          <Line
            key={kind}
            data={series[kind]}
            dataKey={key}
            name={KIND_NAMES[kind] ?? kind}
            stroke={KIND_COLOURS[kind] ?? "#64748b"}
            strokeWidth={2}
            dot={{ r: 3 }}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </Frame>
  );
}

/** Segments archived and failed per hour (from the archiver samples' counters). */
export function WalHourChart({ hours }: { hours: WalHour[] }) {
  return (
    <Frame id="wal-hourly" label="WAL segments archived and failed per hour">
      <BarChart data={hours} margin={{ top: 8, right: 12, bottom: 0, left: 4 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.25} />
        <XAxis dataKey="hour" tickFormatter={hourLabel} {...axis} />
        <YAxis allowDecimals={false} width={40} {...axis} />
        <Tooltip labelFormatter={(t) => dayTime(Number(t))} {...tooltipStyle} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Bar dataKey="archived" name="archived" fill="#059669" isAnimationActive={false} minPointSize={2} />
        <Bar dataKey="failed" name="failed" fill="#dc2626" isAnimationActive={false} />
      </BarChart>
    </Frame>
  );
}

/** How old the newest archived segment was at each sample: a growing line is archiving that stopped. */
export function SegmentAgeChart({ points, rpoSeconds }: { points: SegmentAgePoint[]; rpoSeconds: number }) {
  return (
    <Frame id="segment-age" label="Age of the last archived WAL segment over time">
      <LineChart data={points} margin={{ top: 8, right: 12, bottom: 0, left: 4 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.25} />
        <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={timeTicks(points)} {...axis} />
        <YAxis tickFormatter={(s: number) => fineSpan(s * 1000)} width={72} {...axis} />
        <Tooltip labelFormatter={(t) => dayTime(Number(t))} formatter={(value) => fineSpan(Number(value) * 1000)} {...tooltipStyle} />
        <ReferenceLine
          y={rpoSeconds}
          stroke="#dc2626"
          strokeDasharray="4 4"
          label={{ value: "RPO", fill: "#dc2626", fontSize: 11, position: "insideTopRight" }}
        />
        <Line dataKey="ageSeconds" name="age of the last segment" stroke="#0284c7" strokeWidth={2} dot={{ r: 2 }} isAnimationActive={false} />
      </LineChart>
    </Frame>
  );
}

/** The backup volume's use today and ahead at last week's growth, against its size. */
export function DiskForecastChart({ disk }: { disk: DiskForecast }) {
  return (
    <Frame id="disk-forecast" label="Repository volume usage and its forecast">
      <LineChart data={disk.points} margin={{ top: 20, right: 12, bottom: 0, left: 4 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.25} />
        <XAxis dataKey="day" type="number" domain={[0, "dataMax"]} tickFormatter={(d: number) => (d === 0 ? "today" : `+${d} d`)} {...axis} />
        <YAxis domain={[0, disk.totalBytes]} tickFormatter={formatBytes} width={80} {...axis} />
        <Tooltip
          labelFormatter={(d) => (Number(d) === 0 ? "today" : `in ${String(d)} days`)}
          formatter={(value) => formatBytes(Number(value))}
          {...tooltipStyle}
        />
        <ReferenceLine
          y={disk.totalBytes}
          stroke="#dc2626"
          strokeDasharray="4 4"
          label={{ value: "volume full", fill: "#dc2626", fontSize: 11, position: "insideTopLeft" }}
        />
        <Line dataKey="usedBytes" name="used" stroke="#7c3aed" strokeWidth={2} dot={false} isAnimationActive={false} />
      </LineChart>
    </Frame>
  );
}

/** Each restore drill's measured times against the RTO targets. */
export function DrillRtoChart({ drills, targets }: { drills: DrillPoint[]; targets: { fullMs: number; partialMs: number; pitrMs: number } }) {
  const data = drills.map((d) => ({ ...d, label: dayTime(d.t) }));
  const hasPitr = drills.some((d) => d.pitrMs !== null);
  return (
    <Frame id="drill-rto" label="Restore drill times against the RTO targets">
      <BarChart data={data} margin={{ top: 8, right: 12, bottom: 0, left: 4 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.25} />
        <XAxis dataKey="label" {...axis} />
        <YAxis tickFormatter={fineSpan} width={72} {...axis} />
        <Tooltip formatter={(value) => fineSpan(Number(value))} {...tooltipStyle} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <ReferenceLine y={targets.fullMs} stroke="#2563eb" strokeDasharray="4 4" />
        <ReferenceLine y={targets.partialMs} stroke="#059669" strokeDasharray="4 4" />
        {hasPitr ? <ReferenceLine y={targets.pitrMs} stroke="#dc2626" strokeDasharray="4 4" /> : null}
        <Bar dataKey="fullMs" name="full restore" fill="#2563eb" isAnimationActive={false} minPointSize={2} />
        <Bar dataKey="partialMs" name="partial (JSON)" fill="#059669" isAnimationActive={false} minPointSize={2} />
        {hasPitr ? <Bar dataKey="pitrMs" name="point in time" fill="#dc2626" isAnimationActive={false} minPointSize={2} /> : null}
      </BarChart>
    </Frame>
  );
}
