"use server";

import { z } from "zod";
import { verifyAuditChain } from "@/lib/audit/verify-audit-chain";
import { defineAction } from "@/lib/web/action";

/** The same check as `npm run audit:verify`: the first row edited, deleted or rewritten, or an intact chain. */
export const verifyAuditChainAction = defineAction({
  action: "audit.verify",
  permission: "audit.read",
  input: z.object({}).strict(),
  run: async ({ db }) => verifyAuditChain(db),
});
