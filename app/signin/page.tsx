import { redirect } from "next/navigation";
import { SignInForm } from "@/components/auth/sign-in-form-client";
import { getSessionUser } from "@/lib/auth/session";

export const dynamic = "force-dynamic";

export default async function SignInPage() {
  // With the metadata database down the form still shows; signing in then says why it cannot.
  if (await getSessionUser().catch(() => null)) redirect("/");
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-2xl font-semibold">Lifeboat</h1>
        <p className="mt-1 text-sm text-slate-500">Sign in to see your backups.</p>
        <SignInForm />
      </div>
    </main>
  );
}
