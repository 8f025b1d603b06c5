import { z } from "zod";
import { ROLES } from "@/lib/auth/permissions";

export const ZRole = z.enum(ROLES, { error: "must be viewer, operator or admin" });

export const ZEmail = z.string().trim().toLowerCase().email("must be an email address").max(320);

/** A password someone chose (the CLI's --password-stdin); generated ones are 24 characters. */
export const ZChosenPassword = z.string().min(12, "must be at least 12 characters").max(1024, "must be at most 1024 characters");

export const ZUserCreate = z.object({
  email: ZEmail,
  name: z
    .string()
    .trim()
    .max(200)
    .optional()
    .transform((value) => value || undefined),
  role: ZRole,
});
export type TUserCreate = z.infer<typeof ZUserCreate>;

const userId = z.coerce.number().int().positive();

export const ZUserRoleChange = z.object({ userId, role: ZRole });
export const ZUserDisable = z.object({ userId, disabled: z.boolean() });
export const ZUserPasswordReset = z.object({ userId });
