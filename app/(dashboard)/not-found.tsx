import Link from "next/link";

export default function NotFound() {
  return (
    <div className="rounded-xl border border-slate-200 p-6 dark:border-slate-800">
      <h1 className="text-lg font-semibold">Not found</h1>
      <p className="mt-1 text-sm">
        There is nothing here.{" "}
        <Link className="underline" href="/">
          Back to the overview
        </Link>
        .
      </p>
    </div>
  );
}
