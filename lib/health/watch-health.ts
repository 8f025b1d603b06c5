import type { Db } from "@/lib/db/client";
import { targets } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { notify, type DeliveryOutcome } from "@/lib/notify/notify";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { checkTargetHealth } from "./gather-health";
import type { HealthCheck } from "./checks";

export type HealthRound = { target: string; checks: HealthCheck[]; turnedCritical: HealthCheck[]; deliveries: DeliveryOutcome[] }[];

/**
 * One round of the worker's health watch: every target's checks judged and recorded, and a
 * "critical" notice for each check that has just turned critical (once: a check that stays
 * critical is not announced again until it has been ok or warning in between).
 */
export async function watchHealth(options: { db: Db; env: TEnv; now?: Date; onError?: (message: string) => void }): Promise<HealthRound> {
  const round: HealthRound = [];
  for (const { name } of await options.db.select({ name: targets.name }).from(targets)) {
    try {
      const target = await resolveTarget({ env: options.env, db: options.db, name });
      const { checks, turnedCritical } = await checkTargetHealth({ db: options.db, env: options.env, target, now: options.now });
      const deliveries: DeliveryOutcome[] = [];
      for (const check of turnedCritical)
        deliveries.push(
          ...(await notify(
            options.db,
            {
              event: "critical",
              target: name,
              title: `${check.title} of ${name} is CRITICAL`,
              text: check.message,
              severity: "critical",
              at: options.now ?? new Date(),
              fields: { check: check.id },
            },
            { secretsKey: options.env.LIFEBOAT_SECRETS_KEY },
          )),
        );
      round.push({ target: name, checks, turnedCritical, deliveries });
    } catch (error) {
      options.onError?.(`health of ${name}: ${(error as Error).message}`);
    }
  }
  return round;
}
