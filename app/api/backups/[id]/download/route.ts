// GET /api/backups/[id]/download - stream a logical backup file (operator; audited, denied attempts too)
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { appendAudit } from "@/lib/audit/append-audit";
import { can } from "@/lib/auth/permissions";
import { getSessionUser } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { backupArtifacts, targets } from "@/lib/db/schema";
import { LifeboatError } from "@/lib/engine/errors";
import { resolveArtifactPath } from "@/lib/engine/repository/paths";
import { getEnv } from "@/lib/env";
import { resolveTarget } from "@/lib/targets/resolve-target";

export const dynamic = "force-dynamic";

const ACTION = "backups.download";

function refuse(status: number, error: string): Response {
  return Response.json({ error }, { status, headers: { "Cache-Control": "no-store" } });
}

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const db = await getDb();
  const raw = (await params).id;
  const user = await getSessionUser().catch(() => null);
  if (!user) {
    await appendAudit(db, { action: ACTION, outcome: "denied", subject: null, details: { backupId: raw, reason: "not signed in" } });
    return refuse(401, "Sign in first.");
  }
  const actor = { actorId: user.id, actorEmail: user.email };
  if (!can(user, "backups.download")) {
    await appendAudit(db, { ...actor, action: ACTION, outcome: "denied", subject: null, details: { backupId: raw, reason: `${user.role} lacks backups.download` } });
    return refuse(403, `Your role (${user.role}) may not download backups: it needs backups.download.`);
  }
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) return refuse(400, "Not a backup id.");
  const [row] = await db
    .select({ fileName: backupArtifacts.fileName, kind: backupArtifacts.kind, status: backupArtifacts.status, target: targets.name })
    .from(backupArtifacts)
    .innerJoin(targets, eq(targets.id, backupArtifacts.targetId))
    .where(eq(backupArtifacts.id, id))
    .limit(1);
  if (!row) return refuse(404, `There is no backup ${id}.`);
  // A base backup or a dump in directory format is a folder: it is copied from the repository, not downloaded.
  if (row.kind === "base" || row.fileName.endsWith(".dir")) return refuse(409, `${row.fileName} is a folder; copy it from the repository instead.`);

  let file: string;
  let size: number;
  try {
    const target = await resolveTarget({ env: getEnv(), db, name: row.target });
    // Confined to the target's folder: no '..', no folder part, no symbolic link.
    file = await resolveArtifactPath(target.repository.dir, row.fileName);
    size = (await stat(file)).size;
  } catch (error) {
    const message = error instanceof LifeboatError ? error.message : "the file could not be read";
    await appendAudit(db, { ...actor, action: ACTION, outcome: "failed", subject: row.target, details: { file: row.fileName, error: message } });
    return refuse(410, `${row.fileName} is not in the repository any more (${message}).`);
  }
  await appendAudit(db, { ...actor, action: ACTION, outcome: "succeeded", subject: row.target, details: { file: row.fileName, bytes: size } });
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(size),
      "Content-Disposition": `attachment; filename="${row.fileName.replace(/[^\w.-]/g, "_")}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
