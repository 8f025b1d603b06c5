export default function Loading() {
  return (
    <div className="mx-auto max-w-5xl p-6" aria-busy="true">
      <div className="h-8 w-40 animate-pulse rounded bg-slate-200" />
      <div className="mt-6 h-40 animate-pulse rounded-xl bg-slate-200" />
    </div>
  );
}
