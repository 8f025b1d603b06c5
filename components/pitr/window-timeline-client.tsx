"use client";

import { useEffect, useRef, useState, type MouseEvent } from "react";
import { formatMoment, timeMs, type PitrTargetView, type PitrTimelineView } from "@/lib/web/pitr-view";
import { useBrowserZone } from "./use-zone";

/** Width until the container is measured (then the drawing uses its real width: text stays legible on a phone). */
const DEFAULT_WIDTH = 1000;
const RIGHT = 24;
const TOP = 26;
const ROW = 64;
const AXIS = 30;

type Props = {
  view: PitrTargetView;
  /** The moment picked (ms), drawn as a line. */
  selected: number | null;
  /** Clicking the chart picks that moment (admins); absent: the chart only shows. */
  onPick?: ((ms: number) => void) | undefined;
};

function domainOf(view: PitrTargetView): [number, number] {
  const times = [
    ...view.bases.flatMap((b) => [timeMs(b.startedAt), timeMs(b.finishedAt)]),
    ...view.timelines.flatMap((t) => [
      ...t.stretches.flatMap((s) => [timeMs(s.from.time), timeMs(s.to.time)]),
      ...t.restorePoints.map((p) => (p.time ? timeMs(p.time) : NaN)),
    ]),
    timeMs(view.now),
  ].filter(Number.isFinite);
  const start = Math.min(...times);
  const end = Math.max(...times);
  const pad = Math.max((end - start) * 0.04, 2_000);
  return [start - pad, end + pad];
}

function tickLabel(ms: number, span: number, zone: string): string {
  if (span > 2 * 86_400_000) return new Intl.DateTimeFormat("en-GB", { timeZone: zone, day: "numeric", month: "short" }).format(ms);
  if (span > 86_400_000)
    return new Intl.DateTimeFormat("en-GB", { timeZone: zone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
      ms,
    );
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    hour: "2-digit",
    minute: "2-digit",
    ...(span < 3_600_000 ? { second: "2-digit" as const } : {}),
    hourCycle: "h23",
  }).format(ms);
}

/**
 * The recoverable window as a timeline, one row per timeline: WAL coverage as bars, gaps, base
 * backups as markers, named restore points, "now" and the picked moment. Hover titles carry the
 * details; the list below the chart says the same in words.
 */
export function WindowTimeline({ view, selected, onPick }: Props) {
  const zone = useBrowserZone();
  const box = useRef<HTMLDivElement>(null);
  const [W, setWidth] = useState(DEFAULT_WIDTH);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.max(300, Math.round(entry.contentRect.width)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const LEFT = W < 600 ? 78 : 100;
  const [start, end] = domainOf(view);
  const span = end - start;
  const x = (ms: number) => LEFT + ((ms - start) / span) * (W - LEFT - RIGHT);
  const now = timeMs(view.now);
  const height = TOP + view.timelines.length * ROW + AXIS;
  const when = (iso: string) => `${formatMoment(iso, zone)} (${zone})`;

  const pick = (event: MouseEvent<SVGSVGElement>) => {
    if (!onPick) return;
    const rect = event.currentTarget.getBoundingClientRect();
    const vx = ((event.clientX - rect.left) / rect.width) * W;
    if (vx < LEFT) return;
    onPick(Math.round(start + ((vx - LEFT) / (W - LEFT - RIGHT)) * span));
  };

  const row = (timeline: PitrTimelineView, index: number) => {
    const top = TOP + index * ROW;
    const barY = top + 24;
    const bars = timeline.stretches.map((s) => ({ from: timeMs(s.from.time), to: timeMs(s.to.time), stretch: s }));
    const gaps: { from: number; to: number; title: string; kind: "gap" | "pending" }[] = [];
    bars.forEach((bar, i) => {
      const next = bars[i + 1];
      if (next && next.from > bar.to)
        gaps.push({
          from: bar.to,
          to: next.from,
          kind: "gap",
          title: `gap: nothing recoverable from ${when(bar.stretch.to.time)} to ${when(next.stretch.from.time)} (${bar.stretch.endReason})`,
        });
    });
    const lastBar = bars.at(-1);
    if (timeline.followed && lastBar && now > lastBar.to)
      gaps.push({
        from: lastBar.to,
        to: now,
        kind: "pending",
        title: `not recoverable yet: the archive ends at the commit of ${when(lastBar.stretch.to.time)} (${lastBar.stretch.endReason})`,
      });
    const bases = view.bases.filter((b) => timeline.stretches.some((s) => s.bases.includes(b.artifact)));
    return (
      <g key={timeline.timeline} data-testid="pitr-timeline-row" data-timeline={timeline.timeline}>
        <text x={8} y={barY + 12} className="fill-slate-700 text-[13px] dark:fill-slate-200">
          Timeline {timeline.timeline}
        </text>
        {!timeline.followed ? (
          <text x={8} y={barY + 28} className="fill-slate-500 text-[10px]">
            superseded
          </text>
        ) : null}
        <rect x={LEFT} y={barY + 6} width={W - LEFT - RIGHT} height={4} rx={2} className="fill-slate-200 dark:fill-slate-700" />
        {gaps.map((g, i) => (
          <rect
            key={`gap-${i}`}
            data-testid={g.kind === "gap" ? "pitr-gap" : "pitr-pending"}
            x={x(g.from)}
            y={barY}
            width={Math.max(x(g.to) - x(g.from), 2)}
            height={16}
            className={g.kind === "gap" ? "fill-red-300 dark:fill-red-800" : "fill-amber-200 dark:fill-amber-800"}
            opacity={0.8}
          >
            <title>{g.title}</title>
          </rect>
        ))}
        {bars.map((bar, i) => (
          <rect
            key={`bar-${i}`}
            data-testid="pitr-wal-bar"
            x={x(bar.from)}
            y={barY}
            width={Math.max(x(bar.to) - x(bar.from), 3)}
            height={16}
            rx={3}
            className={timeline.followed ? "fill-emerald-500 dark:fill-emerald-400" : "fill-emerald-300 dark:fill-emerald-800"}
          >
            <title>{`recoverable: ${when(bar.stretch.from.time)} → ${when(bar.stretch.to.time)}; WAL ${bar.stretch.from.lsn} → ${bar.stretch.to.lsn}; ends: ${bar.stretch.endReason}`}</title>
          </rect>
        ))}
        {bases.map((b) => {
          const bx = x(timeMs(b.finishedAt));
          return (
            <g key={b.artifact} data-testid="pitr-base-marker">
              <title>{`base backup ${b.artifact}: ${when(b.startedAt)} → ${when(b.finishedAt)}`}</title>
              <line x1={bx} x2={bx} y1={barY - 8} y2={barY + 20} className="stroke-sky-700 dark:stroke-sky-300" strokeWidth={2} />
              <path d={`M ${bx - 6} ${barY - 14} L ${bx + 6} ${barY - 14} L ${bx} ${barY - 6} Z`} className="fill-sky-700 dark:fill-sky-300" />
            </g>
          );
        })}
        {timeline.restorePoints
          .filter((p) => p.time)
          .map((p) => {
            const px = x(timeMs(p.time!));
            const py = barY + 30;
            return (
              <path
                key={`${p.name}-${p.lsn}`}
                data-testid="pitr-restore-point"
                d={`M ${px} ${py - 6} L ${px + 5} ${py} L ${px} ${py + 6} L ${px - 5} ${py} Z`}
                className="fill-violet-600 dark:fill-violet-300"
              >
                <title>{`restore point "${p.name}" at ${p.lsn}${p.time ? `, ${p.estimated ? "about " : ""}${when(p.time)}` : ""}`}</title>
              </path>
            );
          })}
      </g>
    );
  };

  const tickCount = W < 600 ? 3 : 5;
  const ticks = Array.from({ length: tickCount }, (_, i) => start + (span * (i + 0.5)) / tickCount);
  const axisY = TOP + view.timelines.length * ROW + 4;
  const summary = view.timelines
    .filter((t) => t.followed)
    .flatMap((t) => t.stretches.map((s) => `from ${when(s.from.time)} to ${when(s.to.time)}`))
    .join("; ");

  return (
    <div ref={box}>
      <svg
        data-testid="pitr-timeline"
        viewBox={`0 0 ${W} ${height}`}
        className={`w-full select-none ${onPick ? "cursor-crosshair" : ""}`}
        role="img"
        aria-label={`Recoverable window of ${view.name}: ${summary || "nothing recoverable yet"}`}
        onClick={pick}
      >
        {view.timelines.map(row)}
        <line x1={LEFT} x2={W - RIGHT} y1={axisY} y2={axisY} className="stroke-slate-300 dark:stroke-slate-600" />
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={axisY} y2={axisY + 5} className="stroke-slate-400" />
            <text x={x(t)} y={axisY + 18} textAnchor="middle" className="fill-slate-500 text-[11px] dark:fill-slate-400">
              {tickLabel(t, span, zone)}
            </text>
          </g>
        ))}
        <g data-testid="pitr-now">
          <line x1={x(now)} x2={x(now)} y1={TOP - 8} y2={axisY} strokeDasharray="4 3" className="stroke-slate-500 dark:stroke-slate-300" />
          <text x={x(now)} y={TOP - 12} textAnchor="end" className="fill-slate-600 text-[11px] dark:fill-slate-300">
            now
          </text>
        </g>
        {selected !== null && selected >= start && selected <= end ? (
          <g data-testid="pitr-selected">
            <line x1={x(selected)} x2={x(selected)} y1={TOP + 8} y2={axisY} strokeWidth={2} className="stroke-sky-500" />
            {/* Below the bars, so it never covers the "now" label at the top. */}
            <text x={x(selected) - 4} y={axisY - 4} textAnchor="end" className="fill-sky-700 text-[11px] font-medium dark:fill-sky-300">
              picked
            </text>
          </g>
        ) : null}
      </svg>
      <ul className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600 dark:text-slate-400" aria-label="Legend">
        <li className="flex items-center gap-1">
          <span className="inline-block h-3 w-5 rounded-sm bg-emerald-500" aria-hidden="true" /> WAL archived: recoverable
        </li>
        <li className="flex items-center gap-1">
          <span className="inline-block h-3 w-5 rounded-sm bg-red-300" aria-hidden="true" /> gap (missing or damaged WAL)
        </li>
        <li className="flex items-center gap-1">
          <span className="inline-block h-3 w-5 rounded-sm bg-amber-200" aria-hidden="true" /> not archived yet
        </li>
        <li className="flex items-center gap-1">
          <span className="text-sky-700 dark:text-sky-300" aria-hidden="true">
            ▼
          </span>{" "}
          base backup
        </li>
        <li className="flex items-center gap-1">
          <span className="text-violet-600 dark:text-violet-300" aria-hidden="true">
            ◆
          </span>{" "}
          named restore point
        </li>
      </ul>
    </div>
  );
}
