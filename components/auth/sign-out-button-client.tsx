"use client";

import { signOut } from "next-auth/react";

export function SignOutButton() {
  return (
    <button
      type="button"
      onClick={() =>
        // next-auth would redirect to an absolute URL built from NEXTAUTH_URL (port 3000 whatever
        // the app runs on); the sign-in page of this very origin is the right place.
        void signOut({ redirect: false }).then(() => window.location.assign("/signin"))
      }
      className="rounded-md border border-slate-300 px-3 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
    >
      Sign out
    </button>
  );
}
