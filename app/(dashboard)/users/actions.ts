"use server";

import { revalidatePath } from "next/cache";
import { createUser, resetUserPassword, setUserDisabled, setUserRole } from "@/lib/users/manage-users";
import { ZUserCreate, ZUserDisable, ZUserPasswordReset, ZUserRoleChange } from "@/lib/validations/users";
import { defineAction } from "@/lib/web/action";

// Each one: session → users.manage → zod → handler → audit row (denied attempts too).

export const createUserAction = defineAction({
  action: "users.create",
  permission: "users.manage",
  input: ZUserCreate,
  subject: (input) => `${input.email} as ${input.role}`,
  run: async ({ db }, input) => {
    const { user, password } = await createUser(db, input);
    revalidatePath("/users");
    return { id: user.id, email: user.email, password };
  },
});

export const setUserRoleAction = defineAction({
  action: "users.set-role",
  permission: "users.manage",
  input: ZUserRoleChange,
  subject: (input) => `user #${input.userId} to ${input.role}`,
  run: async ({ db }, input) => {
    const result = await setUserRole(db, input.userId, input.role);
    revalidatePath("/users");
    return result;
  },
});

export const setUserDisabledAction = defineAction({
  action: "users.set-disabled",
  permission: "users.manage",
  input: ZUserDisable,
  subject: (input) => `user #${input.userId} ${input.disabled ? "disabled" : "enabled"}`,
  run: async ({ db, user }, input) => {
    const result = await setUserDisabled(db, user.id, input.userId, input.disabled);
    revalidatePath("/users");
    return result;
  },
});

export const resetUserPasswordAction = defineAction({
  action: "users.reset-password",
  permission: "users.manage",
  input: ZUserPasswordReset,
  subject: (input) => `user #${input.userId}`,
  run: async ({ db, user }, input) => {
    const result = await resetUserPassword(db, input.userId, input.userId === user.id ? user.sessionId : undefined);
    revalidatePath("/users");
    return result;
  },
});
