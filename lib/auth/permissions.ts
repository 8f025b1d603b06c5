/**
 * Roles and what they may do, as plain data (DESIGN.md, "Permissions"). Code asks
 * `can(user, "backups.restore")`; it never compares role names itself. Deny by default.
 */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type RoleName = (typeof ROLES)[number];

export const PERMISSIONS = {
  "backups.read": "viewer",
  "health.read": "viewer",
  "backups.run": "operator",
  "backups.verify": "operator",
  "backups.download": "operator",
  "backups.restore": "admin",
  "backups.pitr": "admin",
  "backups.delete": "admin",
  "schedules.manage": "admin",
  "retention.manage": "admin",
  "users.manage": "admin",
  "targets.manage": "admin",
  "audit.read": "admin",
} as const satisfies Record<string, RoleName>;

export type Permission = keyof typeof PERMISSIONS;

export function roleRank(role: string): number {
  return ROLES.indexOf(role as RoleName);
}

export function isRole(value: unknown): value is RoleName {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** Whether a (possibly missing) user may do something. Unknown roles and permissions are denied. */
export function can(user: { role?: string | null } | null | undefined, permission: Permission): boolean {
  if (!user?.role || !isRole(user.role)) return false;
  const needed = PERMISSIONS[permission] as RoleName | undefined;
  if (!needed) return false;
  return roleRank(user.role) >= roleRank(needed);
}
