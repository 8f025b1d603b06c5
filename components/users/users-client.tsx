"use client";

import { useRouter } from "next/navigation";
import { useState, useTransition, type FormEvent } from "react";
import { createUserAction, resetUserPasswordAction, setUserDisabledAction, setUserRoleAction } from "@/app/(dashboard)/users/actions";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { StateBadge } from "@/components/ui/state-badge";
import { ROLES, type RoleName } from "@/lib/auth/permissions";
import type { ActionResult } from "@/lib/web/action";

export type UserRow = {
  id: number;
  email: string;
  name: string | null;
  role: RoleName;
  disabled: boolean;
  lastSignInAt: string | null;
  liveSessions: number;
};

type Notice = { kind: "ok" | "error"; text: string } | null;
type Revealed = { email: string; password: string; why: string } | null;

const inputClass = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";

function formatTime(iso: string | null): string {
  if (!iso) return "never";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A generated password, shown once: it is not stored anywhere Lifeboat can show it again. */
function PasswordReveal({ revealed, onDone }: { revealed: NonNullable<Revealed>; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div role="alert" className="rounded-xl border border-emerald-300 bg-emerald-50 p-4 text-sm dark:border-emerald-800 dark:bg-emerald-950">
      <p className="font-medium">
        {revealed.why} Password for {revealed.email}, shown only this once:
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <code data-testid="new-password" className="rounded bg-white px-2 py-1 font-mono text-base select-all dark:bg-slate-900">
          {revealed.password}
        </code>
        <Button
          onClick={() =>
            void navigator.clipboard?.writeText(revealed.password).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? "Copied" : "Copy"}
        </Button>
        <Button onClick={onDone}>I have stored it</Button>
      </div>
      <p className="mt-2 text-slate-600 dark:text-slate-400">Hand it over through a private channel; they can sign in with it at once.</p>
    </div>
  );
}

function CreateUserForm({ onCreated, onError }: { onCreated: (email: string, password: string) => void; onError: (text: string) => void }) {
  const [pending, startTransition] = useTransition();
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    startTransition(async () => {
      const result = await createUserAction({
        email: String(data.get("email") ?? ""),
        name: String(data.get("name") ?? ""),
        role: String(data.get("role") ?? ""),
      });
      if (!result.ok) return onError(result.error);
      form.reset();
      onCreated(result.data.email, result.data.password);
    });
  }
  return (
    <Card title="Add a user">
      <form onSubmit={onSubmit} className="grid gap-3 sm:grid-cols-[2fr_2fr_1fr_auto] sm:items-end">
        <label className="block text-sm font-medium">
          Email
          <input name="email" type="email" required autoComplete="off" className={inputClass} />
        </label>
        <label className="block text-sm font-medium">
          Name <span className="font-normal text-slate-500">(optional)</span>
          <input name="name" type="text" autoComplete="off" className={inputClass} />
        </label>
        <label className="block text-sm font-medium">
          Role
          <select name="role" defaultValue="viewer" className={inputClass}>
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {role}
              </option>
            ))}
          </select>
        </label>
        <Button type="submit" variant="primary" disabled={pending}>
          {pending ? "Creating…" : "Create user"}
        </Button>
      </form>
      <p className="mt-2 text-xs text-slate-500 dark:text-slate-400">A password is generated and shown once; nobody chooses it for them.</p>
    </Card>
  );
}

function UserRowView({ row, isSelf, run }: { row: UserRow; isSelf: boolean; run: (label: string, call: () => Promise<ActionResult<unknown>>) => void }) {
  const [confirmReset, setConfirmReset] = useState(false);
  return (
    <tr data-testid={`user-row-${row.email}`} className="block border-t border-slate-200 py-2 align-top sm:table-row sm:py-0 dark:border-slate-800">
      <td className="block py-1 pr-3 sm:table-cell sm:py-2">
        <div className="font-medium break-all">{row.email}</div>
        {row.name ? <div className="text-xs text-slate-500">{row.name}</div> : null}
        {isSelf ? <div className="text-xs text-slate-500">(you)</div> : null}
        <div className="text-xs text-slate-500 sm:hidden">
          {row.disabled ? <StateBadge state="canceled" label="disabled" /> : null} last sign-in {formatTime(row.lastSignInAt)} · {row.liveSessions} session
          {row.liveSessions === 1 ? "" : "s"}
        </div>
      </td>
      <td className="block py-1 pr-3 sm:table-cell sm:py-2">
        <select
          aria-label={`Role of ${row.email}`}
          value={row.role}
          onChange={(event) => {
            const role = event.target.value;
            run(`${row.email} is now ${role}.`, () => setUserRoleAction({ userId: row.id, role }));
          }}
          className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950"
        >
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
      </td>
      <td className="hidden py-2 pr-3 sm:table-cell">
        <StateBadge state={row.disabled ? "canceled" : "ok"} label={row.disabled ? "disabled" : "active"} />
      </td>
      <td className="hidden py-2 pr-3 text-sm whitespace-nowrap sm:table-cell">{formatTime(row.lastSignInAt)}</td>
      <td className="hidden py-2 pr-3 text-sm sm:table-cell">{row.liveSessions}</td>
      <td className="block py-1 sm:table-cell sm:py-2">
        <div className="flex flex-wrap gap-2">
          <Button
            disabled={isSelf && !row.disabled}
            title={isSelf ? "You cannot disable your own account" : undefined}
            onClick={() =>
              run(row.disabled ? `${row.email} may sign in again.` : `${row.email} is disabled; their sessions were signed out.`, () =>
                setUserDisabledAction({ userId: row.id, disabled: !row.disabled }),
              )
            }
          >
            {row.disabled ? "Enable" : "Disable"}
            <span className="sr-only"> {row.email}</span>
          </Button>
          {confirmReset ? (
            <>
              <Button
                variant="danger"
                onClick={() => {
                  setConfirmReset(false);
                  run(`${row.email} has a new password; their sessions were signed out.`, () => resetUserPasswordAction({ userId: row.id }));
                }}
              >
                Confirm reset<span className="sr-only"> of {row.email}</span>
              </Button>
              <Button onClick={() => setConfirmReset(false)}>Keep password</Button>
            </>
          ) : (
            <Button onClick={() => setConfirmReset(true)}>
              Reset password<span className="sr-only"> of {row.email}</span>
            </Button>
          )}
        </div>
      </td>
    </tr>
  );
}

/** The users page's interactive part: every change goes through a server action (users.manage, audited). */
export function UsersClient({ users, currentUserId }: { users: UserRow[]; currentUserId: number }) {
  const router = useRouter();
  const [notice, setNotice] = useState<Notice>(null);
  const [revealed, setRevealed] = useState<Revealed>(null);
  const [, startTransition] = useTransition();

  const run = (label: string, call: () => Promise<ActionResult<unknown>>) => {
    setNotice(null);
    startTransition(async () => {
      const result = await call();
      if (!result.ok) {
        setNotice({ kind: "error", text: result.error });
        router.refresh();
        return;
      }
      const data = result.data as { email?: string; password?: string };
      if (data.password && data.email) setRevealed({ email: data.email, password: data.password, why: "Password reset." });
      setNotice({ kind: "ok", text: label });
      router.refresh();
    });
  };

  return (
    <div className="space-y-6">
      <CreateUserForm
        onCreated={(email, password) => {
          setRevealed({ email, password, why: `${email} was created.` });
          setNotice(null);
          router.refresh();
        }}
        onError={(text) => setNotice({ kind: "error", text })}
      />
      {revealed ? <PasswordReveal revealed={revealed} onDone={() => setRevealed(null)} /> : null}
      <p role="status" className={`min-h-5 text-sm ${notice?.kind === "error" ? "text-red-700 dark:text-red-400" : "text-emerald-700 dark:text-emerald-400"}`}>
        {notice?.text}
      </p>
      <Card title={`${users.length} user${users.length === 1 ? "" : "s"}`}>
        {users.length === 0 ? (
          <EmptyState title="No users yet">Add one above, or run npm run user:create -- --email you@example.com --role admin.</EmptyState>
        ) : (
          // relative: the buttons' screen-reader text is positioned; it must not widen the page on a phone.
          <div className="relative overflow-x-auto">
            <table className="block w-full text-left text-sm sm:table">
              <thead className="hidden text-xs text-slate-500 uppercase sm:table-header-group dark:text-slate-400">
                <tr>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    User
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Role
                  </th>
                  <th scope="col" className="hidden py-2 pr-3 font-medium sm:table-cell">
                    Status
                  </th>
                  <th scope="col" className="hidden py-2 pr-3 font-medium sm:table-cell">
                    Last sign-in
                  </th>
                  <th scope="col" className="hidden py-2 pr-3 font-medium sm:table-cell">
                    Sessions
                  </th>
                  <th scope="col" className="py-2 font-medium">
                    Actions
                  </th>
                </tr>
              </thead>
              <tbody className="block sm:table-row-group">
                {users.map((row) => (
                  <UserRowView key={row.id} row={row} isSelf={row.id === currentUserId} run={run} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
