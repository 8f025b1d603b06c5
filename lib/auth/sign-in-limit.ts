import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { LifeboatError } from "@/lib/engine/errors";

/**
 * Sign-in rate limits, counted in the metadata database so every server process sees the same
 * attempts. A failure (or an attempt still being checked) within the window counts; an attempt
 * refused by the limit does not, so hammering a locked account does not lengthen its lock.
 * - account + address: 5 failures lock that pair (a success from the pair starts it afresh);
 * - address: 20 failures over any accounts lock the address (guessing many accounts);
 * - account: 30 failures from any addresses lock the account (guessing from many addresses, or
 *   with forged X-Forwarded-For headers when no proxy overwrites them).
 */
export const SIGN_IN_LIMITS = {
  windowSeconds: 15 * 60,
  perAccountAddress: 5,
  perAddress: 20,
  perAccount: 30,
} as const;

export type SignInLimits = { windowSeconds: number; perAccountAddress: number; perAddress: number; perAccount: number };

export type LimitScope = "account-address" | "address" | "account";

export class SignInLimitedError extends LifeboatError {
  constructor(
    readonly scope: LimitScope,
    readonly retryAt: Date,
    now: Date,
  ) {
    const minutes = Math.max(1, Math.ceil((retryAt.getTime() - now.getTime()) / 60_000));
    const who = scope === "account-address" ? "for this account from your address" : scope === "address" ? "from your address" : "for this account";
    super(
      "SIGN_IN_LIMITED",
      `Too many failed sign-ins ${who}. Try again after ${retryAt.toISOString().slice(11, 16)} UTC (in ${minutes} minute${minutes === 1 ? "" : "s"}).`,
    );
  }
}

type Row = { at: Date | string };

/**
 * Record an attempt as pending and check the limits against the attempts before it. Inserting
 * first means parallel attempts see each other: of 20 sent at once, only the first 5 get a
 * password check. Throws SignInLimitedError (the attempt is then marked "limited").
 */
export async function beginSignInAttempt(db: Db, attempt: { email: string; address: string }, limits: SignInLimits = SIGN_IN_LIMITS): Promise<number> {
  const window = sql`now() - make_interval(secs => ${limits.windowSeconds})`;
  const inserted = await db.execute<{ id: string; now: Date | string }>(
    sql`insert into sign_in_attempts (email, address, outcome) values (${attempt.email}, ${attempt.address}, 'pending') returning id, now() as now`,
  );
  const id = Number(inserted.rows[0]!.id);
  const now = new Date(inserted.rows[0]!.now);
  await db.execute(sql`delete from sign_in_attempts where at < now() - interval '1 day'`);

  const checks: { scope: LimitScope; limit: number; where: ReturnType<typeof sql> }[] = [
    {
      scope: "account-address",
      limit: limits.perAccountAddress,
      where: sql`email = ${attempt.email} and address = ${attempt.address} and at > coalesce(
        (select max(at) from sign_in_attempts where email = ${attempt.email} and address = ${attempt.address} and outcome = 'succeeded'), '-infinity')`,
    },
    { scope: "address", limit: limits.perAddress, where: sql`address = ${attempt.address}` },
    { scope: "account", limit: limits.perAccount, where: sql`email = ${attempt.email}` },
  ];
  for (const check of checks) {
    // The limit-th most recent counted attempt: when it leaves the window, one more try is allowed.
    const { rows } = await db.execute<Row>(
      sql`select at from sign_in_attempts where ${check.where} and outcome in ('failed', 'pending') and id < ${id} and at > ${window}
          order by at desc limit 1 offset ${check.limit - 1}`,
    );
    const edge = rows[0];
    if (edge) {
      await db.execute(sql`update sign_in_attempts set outcome = 'limited' where id = ${id}`);
      const retryAt = new Date(new Date(edge.at).getTime() + limits.windowSeconds * 1000);
      throw new SignInLimitedError(check.scope, retryAt, now);
    }
  }
  return id;
}

export async function finishSignInAttempt(db: Db, id: number, outcome: "failed" | "succeeded"): Promise<void> {
  await db.execute(sql`update sign_in_attempts set outcome = ${outcome} where id = ${id}`);
}
