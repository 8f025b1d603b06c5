import type { RoleName } from "@/lib/auth/permissions";

declare module "next-auth" {
  interface Session {
    user: { id: number; email: string; name?: string | null; role: RoleName };
  }
  interface User {
    id: string;
    role: RoleName;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    uid?: number;
    role?: RoleName;
  }
}
