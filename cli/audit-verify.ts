/**
 * npm run audit:verify
 * Check the audit log's sealed hash chain and its anchor: names the first row that was edited,
 * deleted or rewritten; exit 1 when the chain is broken.
 */
import { verifyAuditChain } from "@/lib/audit/verify-audit-chain";
import { openCliSession, runCli } from "./context";

runCli(async () => {
  const session = await openCliSession({ requireCatalog: true });
  try {
    const report = await verifyAuditChain(session.meta!.db);
    if (report.ok) {
      console.log(
        `audit log intact: ${report.rows} row(s)${report.keyed ? ", sealed" : " (not sealed: set LIFEBOAT_AUDIT_KEY or AUTH_SECRET)"}${report.anchoredAt ? `, reaching the anchored row ${report.anchoredAt}` : ""}`,
      );
      return 0;
    }
    console.log(`audit log BROKEN at row ${report.brokenAtId}: it ${report.reason}`);
    await session.log.write("ERROR", "audit-verify", { status: "FAILED", row: report.brokenAtId, error: report.reason });
    return 1;
  } finally {
    await session.close();
  }
});
