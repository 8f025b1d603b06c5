"use server";

import { discardInstanceAction, planPitrAction, recoveredRowsAction, requestPitrAction } from "@/lib/web/pitr-actions";

// Each one runs the whole pipeline of defineAction (session, permission backups.pitr, schema, audit).

export async function planPitrMoment(input: unknown) {
  return planPitrAction(input);
}

export async function requestPitr(input: unknown) {
  return requestPitrAction(input);
}

export async function readRecoveredRows(input: unknown) {
  return recoveredRowsAction(input);
}

export async function discardRecoveredInstance(input: unknown) {
  return discardInstanceAction(input);
}
