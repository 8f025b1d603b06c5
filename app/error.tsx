"use client";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div role="alert" className="mx-auto max-w-xl p-6">
      <h1 className="text-xl font-semibold">Something went wrong</h1>
      <p className="mt-2 text-sm text-slate-600">
        The page could not be shown{error.digest ? ` (reference ${error.digest})` : ""}. The server log has the details.
      </p>
      <button type="button" onClick={reset} className="mt-4 rounded-md bg-slate-900 px-3 py-2 text-white">
        Try again
      </button>
    </div>
  );
}
