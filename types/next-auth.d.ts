import type { RoleName } from "@/lib/auth/permissions";

declare module "next-auth" {
  interface Session {
    user: { id: number; email: string; name?: string | null; role: RoleName };
    /** The sessions row this cookie belongs to (checked on every request; revoked at sign-out). */
    sid?: string | undefined;
  }
  interface User {
    id: string;
    role: RoleName;
    sid?: string;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    uid?: number;
    role?: RoleName;
    sid?: string;
  }
}
