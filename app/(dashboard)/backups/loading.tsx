import { Skeleton } from "@/components/ui/skeleton";

export default function Loading() {
  return (
    <div aria-busy="true" aria-label="Loading backups" className="space-y-4">
      <Skeleton className="h-8 w-40" />
      <Skeleton className="h-16 w-full rounded-xl" />
      <div className="space-y-2 rounded-xl border border-slate-200 p-3 dark:border-slate-800">
        {Array.from({ length: 8 }, (_, i) => (
          <Skeleton key={i} className="h-8 w-full" />
        ))}
      </div>
    </div>
  );
}
