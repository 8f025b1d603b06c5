// GET /api/health - liveness for the quickstart and load balancers (public; reveals nothing but whether the metadata database answers)
import { sql } from "drizzle-orm";
import { describeForLog } from "@/lib/auth/db-errors";
import { getDb } from "@/lib/db/client";

export const dynamic = "force-dynamic";

const TIMEOUT_MS = 3_000;

export async function GET() {
  try {
    await Promise.race([
      getDb().then((db) => db.execute(sql`select 1`)),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS).unref()),
    ]);
    return Response.json({ ok: true, database: "ok" });
  } catch (error) {
    console.error(`lifeboat: health: the metadata database is unreachable (${describeForLog(error)})`);
    return Response.json(
      { ok: false, database: "unreachable", error: "The metadata database is unreachable: Lifeboat cannot sign anyone in or record runs until it answers." },
      { status: 503 },
    );
  }
}
