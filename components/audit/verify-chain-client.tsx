"use client";

import { useState, useTransition } from "react";
import { verifyAuditChainAction } from "@/app/(dashboard)/audit/actions";
import { Button } from "@/components/ui/button";
import type { AuditChainReport } from "@/lib/audit/verify-audit-chain";

type Shown = { kind: "report"; report: AuditChainReport } | { kind: "error"; text: string } | null;

/** Runs the chain verifier on the server (the one `npm run audit:verify` runs) and says what it found. */
export function VerifyChain() {
  const [pending, startTransition] = useTransition();
  const [shown, setShown] = useState<Shown>(null);
  return (
    <div className="space-y-3">
      <Button
        variant="primary"
        disabled={pending}
        onClick={() =>
          startTransition(async () => {
            const result = await verifyAuditChainAction({});
            setShown(result.ok ? { kind: "report", report: result.data } : { kind: "error", text: result.error });
          })
        }
      >
        {pending ? "Verifying…" : "Verify chain"}
      </Button>
      <div role="status" data-testid="chain-report" className="text-sm">
        {shown?.kind === "error" ? <p className="text-red-700 dark:text-red-400">{shown.text}</p> : null}
        {shown?.kind === "report" && shown.report.ok ? (
          <p className="text-emerald-700 dark:text-emerald-400">
            Audit log intact: {shown.report.rows} row{shown.report.rows === 1 ? "" : "s"}
            {shown.report.keyed ? ", sealed" : " (not sealed: set LIFEBOAT_AUDIT_KEY or AUTH_SECRET)"}
            {shown.report.anchoredAt ? `, reaching the anchored row ${shown.report.anchoredAt}` : ""}.
          </p>
        ) : null}
        {shown?.kind === "report" && !shown.report.ok ? (
          <p className="font-medium text-red-700 dark:text-red-400">
            Audit log broken at row {shown.report.brokenAtId}: the row {shown.report.reason}.
          </p>
        ) : null}
      </div>
    </div>
  );
}
