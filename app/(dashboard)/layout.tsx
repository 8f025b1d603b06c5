import Link from "next/link";
import type { ReactNode } from "react";
import { SignOutButton } from "@/components/auth/sign-out-button-client";
import { Nav, type NavItem } from "@/components/layout/nav-client";
import { ThemeToggle } from "@/components/layout/theme-toggle-client";
import { can } from "@/lib/auth/permissions";
import { requirePageUser } from "@/lib/web/page-user";
import { currentTheme } from "@/lib/web/theme";

export const dynamic = "force-dynamic";

/** Every signed-in page: the header (it wraps on a phone), the sections the role may see. */
export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const user = await requirePageUser();
  const items: NavItem[] = [
    { href: "/", label: "Overview" },
    { href: "/backups", label: "Backups" },
    { href: "/pitr", label: "Point in time" },
    { href: "/health", label: "Health" },
    { href: "/settings", label: "Settings" },
    ...(can(user, "users.manage") ? [{ href: "/users", label: "Users" }] : []),
    ...(can(user, "audit.read") ? [{ href: "/audit", label: "Audit" }] : []),
  ];
  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3">
          <Link href="/" className="text-lg font-semibold">
            Lifeboat
          </Link>
          <div className="order-3 w-full sm:order-none sm:w-auto sm:flex-1">
            <Nav items={items} />
          </div>
          <div className="ml-auto flex items-center gap-2 text-sm">
            <span data-testid="signed-in-as" className="hidden truncate sm:inline">
              {user.email} · {user.role}
            </span>
            <span className="sm:hidden" aria-hidden="true">
              {user.role}
            </span>
            <ThemeToggle initial={await currentTheme()} />
            <SignOutButton />
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-6xl px-4 py-6">{children}</main>
    </div>
  );
}
