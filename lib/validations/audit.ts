import { z } from "zod";

const blankToUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);
const day = z.preprocess(
  blankToUndefined,
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date (YYYY-MM-DD)")
    .optional(),
);

/** The audit page's filters (query string), shared with the CSV export. Dates are whole UTC days, both ends included. */
export const ZAuditFilters = z.object({
  actor: z.preprocess(blankToUndefined, z.string().trim().max(320).optional()),
  action: z.preprocess(blankToUndefined, z.string().trim().max(200).optional()),
  outcome: z.preprocess(blankToUndefined, z.enum(["allowed", "denied", "failed", "succeeded"]).optional()),
  from: day,
  to: day,
});
export type TAuditFilters = z.infer<typeof ZAuditFilters>;

export const ZAuditPage = z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(1_000_000).default(1));

/** Read the filters from a query string, ignoring (not failing on) a malformed one. */
export function parseAuditFilters(params: Record<string, string | string[] | undefined> | URLSearchParams): { filters: TAuditFilters; page: number } {
  const get = (key: string) => {
    const value = params instanceof URLSearchParams ? params.get(key) : params[key];
    return Array.isArray(value) ? value[0] : (value ?? undefined);
  };
  const raw = { actor: get("actor"), action: get("action"), outcome: get("outcome"), from: get("from"), to: get("to") };
  const filters: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(ZAuditFilters.shape)) {
    const parsed = schema.safeParse(raw[key as keyof typeof raw]);
    if (parsed.success && parsed.data !== undefined) filters[key] = parsed.data;
  }
  const page = ZAuditPage.safeParse(get("page"));
  return { filters: filters as TAuditFilters, page: page.success ? page.data : 1 };
}

/** The filters as a query string (for pagination and export links). */
export function auditFiltersQuery(filters: TAuditFilters, extra: Record<string, string | number> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filters, ...extra })) if (value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}
