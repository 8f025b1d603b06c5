"use server";

import { operationAction } from "@/lib/web/operations";

// Each action checks the session, the operation's permission and its input schema itself, and is
// audited (denials too): the buttons the pages hide are no protection.
const backup = operationAction("backup");
const restoreFull = operationAction("restore");
const restoreJson = operationAction("restore-json");

/** Queue a backup of a target (operator). */
export async function queueBackup(input: unknown) {
  return backup(input);
}

/** Queue a restore of a full dump, in place (typed database name) or into a new database (admin). */
export async function queueRestoreFull(input: unknown) {
  return restoreFull(input);
}

/** Queue a restore of chosen tables from a JSON export (admin, typed database name). */
export async function queueRestoreJson(input: unknown) {
  return restoreJson(input);
}
