"use client";

import { useRouter } from "next/navigation";
import { useId, useRef, useState, useTransition } from "react";
import { removeTargetAction, saveTargetAction, testTargetAction } from "@/app/(dashboard)/settings/actions";
import { Button } from "@/components/ui/button";
import type { SettingsTarget } from "@/lib/web/settings-data";

const field =
  "w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950 focus:outline-2 focus:outline-sky-500";

type Outcome = { kind: "ok" | "error"; text: string } | null;

/** The targets, and (admins) a form to add or edit one: test the connection, then save. Passwords go in and never come back. */
export function TargetsPanel({ targets, canManage, secretsKeySet }: { targets: SettingsTarget[]; canManage: boolean; secretsKeySet: boolean }) {
  const [editing, setEditing] = useState<string | "new" | null>(null);
  return (
    <div className="space-y-4">
      <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="targets">
        {targets.map((t) => (
          <li key={t.name} className="py-3" data-testid="target-row" data-target={t.name}>
            <div className="flex flex-wrap items-start justify-between gap-2">
              <div className="min-w-0 text-sm">
                <p className="font-medium">
                  {t.name} {t.isDefault ? <span className="text-xs font-normal text-slate-500 dark:text-slate-400">(default, from DB_* in .env)</span> : null}
                </p>
                <p className="font-mono text-xs break-all text-slate-600 dark:text-slate-300">
                  {t.user}@{t.host}:{t.port}/{t.database}
                </p>
                <p className="text-xs text-slate-500 dark:text-slate-400">
                  Password: {t.password}
                  {t.managed ? " · cluster managed on this host (in-place PITR)" : ""}
                </p>
              </div>
              {canManage && !t.isDefault && editing !== t.name ? (
                <div className="flex gap-2">
                  <Button onClick={() => setEditing(t.name)} aria-label={`Edit target ${t.name}`}>
                    Edit
                  </Button>
                  <RemoveTarget name={t.name} />
                </div>
              ) : null}
            </div>
            {editing === t.name ? <TargetForm target={t} secretsKeySet={secretsKeySet} onDone={() => setEditing(null)} /> : null}
          </li>
        ))}
      </ul>
      {canManage ? (
        editing === "new" ? (
          <TargetForm secretsKeySet={secretsKeySet} onDone={() => setEditing(null)} />
        ) : (
          <Button variant="primary" onClick={() => setEditing("new")}>
            Add a target
          </Button>
        )
      ) : null}
    </div>
  );
}

function RemoveTarget({ name }: { name: string }) {
  const router = useRouter();
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  if (!asking)
    return (
      <Button variant="danger" onClick={() => setAsking(true)} aria-label={`Remove target ${name}`}>
        Remove
      </Button>
    );
  return (
    <div role="group" aria-label={`Remove target ${name}?`} className="flex flex-wrap items-center gap-2 text-sm">
      <span>Forget {name}? Its backups stay in the repository; its schedules and history here go.</span>
      <Button
        variant="danger"
        disabled={pending}
        onClick={() =>
          startTransition(async () => {
            const result = await removeTargetAction({ name });
            if (!result.ok) return setError(result.error);
            router.refresh();
          })
        }
      >
        Remove {name}
      </Button>
      <Button onClick={() => setAsking(false)}>Cancel</Button>
      {error ? (
        <span role="alert" className="text-red-700 dark:text-red-300">
          {error}
        </span>
      ) : null}
    </div>
  );
}

function TargetForm({ target, secretsKeySet, onDone }: { target?: SettingsTarget; secretsKeySet: boolean; onDone: () => void }) {
  const router = useRouter();
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  const [passwordMode, setPasswordMode] = useState<"keep" | "sealed" | "env" | "none">(target ? "keep" : "sealed");
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [failedSave, setFailedSave] = useState(false);
  const [pending, startTransition] = useTransition();
  const [name, setName] = useState(target?.name ?? "");

  /** The form's values; the password is read from the (uncontrolled) field at the moment of sending and kept nowhere else. */
  const values = (saveAnyway = false) => {
    const data = new FormData(form.current!);
    return {
      mode: target ? ("edit" as const) : ("add" as const),
      name: String(data.get("name") ?? target?.name ?? ""),
      host: String(data.get("host") ?? ""),
      port: String(data.get("port") ?? ""),
      database: String(data.get("database") ?? ""),
      user: String(data.get("user") ?? ""),
      passwordMode,
      password: passwordMode === "sealed" ? String(data.get("password") ?? "") : undefined,
      saveAnyway,
    };
  };

  const test = () =>
    startTransition(async () => {
      setOutcome(null);
      const result = await testTargetAction(values());
      if (!result.ok) return setOutcome({ kind: "error", text: result.error });
      const probe = result.data;
      setOutcome(probe.ok ? { kind: "ok", text: `Connected: PostgreSQL ${probe.serverVersion}.` } : { kind: "error", text: `cannot connect: ${probe.error}` });
    });

  const save = (saveAnyway = false) =>
    startTransition(async () => {
      setOutcome(null);
      const result = await saveTargetAction(values(saveAnyway));
      if (!result.ok) {
        setFailedSave(result.code === "CONNECTION_FAILED");
        return setOutcome({ kind: "error", text: result.error });
      }
      form.current?.reset();
      onDone();
      router.refresh();
    });

  return (
    <form
      ref={form}
      data-testid="target-form"
      aria-label={target ? `Edit target ${target.name}` : "Add a target"}
      className="mt-3 space-y-3 rounded-lg border border-slate-200 p-4 dark:border-slate-800"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <h3 className="text-sm font-semibold">{target ? `Edit ${target.name}` : "Add a target"}</h3>
      <div className="grid gap-3 sm:grid-cols-2">
        <div>
          <label htmlFor={`${id}-name`} className="block text-xs font-medium">
            Name (its folder in the repository)
          </label>
          <input
            id={`${id}-name`}
            name="name"
            className={field}
            value={name}
            onChange={(e) => setName(e.target.value)}
            disabled={Boolean(target)}
            required
            pattern="[a-z0-9][a-z0-9_\-]{0,62}"
            autoComplete="off"
          />
        </div>
        <div>
          <label htmlFor={`${id}-host`} className="block text-xs font-medium">
            Host
          </label>
          <input id={`${id}-host`} name="host" className={field} defaultValue={target?.host ?? ""} required autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${id}-port`} className="block text-xs font-medium">
            Port
          </label>
          <input id={`${id}-port`} name="port" type="number" min={1} max={65535} className={field} defaultValue={target?.port ?? 5432} required />
        </div>
        <div>
          <label htmlFor={`${id}-database`} className="block text-xs font-medium">
            Database
          </label>
          <input id={`${id}-database`} name="database" className={field} defaultValue={target?.database ?? ""} required autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${id}-user`} className="block text-xs font-medium">
            User
          </label>
          <input id={`${id}-user`} name="user" className={field} defaultValue={target?.user ?? ""} required autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${id}-password-mode`} className="block text-xs font-medium">
            Password source
          </label>
          <select id={`${id}-password-mode`} className={field} value={passwordMode} onChange={(e) => setPasswordMode(e.target.value as typeof passwordMode)}>
            {target ? <option value="keep">Keep the stored one ({target.password})</option> : null}
            <option value="sealed">Type it (stored sealed)</option>
            <option value="env">
              From the environment variable {target?.passwordVariable ?? `LIFEBOAT_TARGET_${(name || "<name>").toUpperCase().replace(/-/g, "_")}_PASSWORD`}
            </option>
            <option value="none">None</option>
          </select>
        </div>
        {passwordMode === "sealed" ? (
          <div className="sm:col-span-2">
            <label htmlFor={`${id}-password`} className="block text-xs font-medium">
              Password
            </label>
            <input id={`${id}-password`} name="password" type="password" className={field} autoComplete="new-password" required />
            <p className="mt-1 text-xs text-slate-500 dark:text-slate-400">
              Write-only: stored encrypted (LIFEBOAT_SECRETS_KEY), bound to this host, port and user, never shown again.
              {secretsKeySet ? "" : " LIFEBOAT_SECRETS_KEY is not set on the server: saving a typed password will be refused (testing works)."}
            </p>
          </div>
        ) : null}
      </div>
      <p className="text-xs text-slate-500 dark:text-slate-400">
        A cluster on this host (data directory, how to stop and start it) is set with npm run target -- add: those settings run commands here.
      </p>
      {outcome ? (
        <p
          role={outcome.kind === "error" ? "alert" : "status"}
          data-testid="target-outcome"
          className={`rounded-md p-2 text-sm ${outcome.kind === "ok" ? "bg-emerald-50 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200" : "bg-red-50 text-red-800 dark:bg-red-950 dark:text-red-200"}`}
        >
          {outcome.text}
        </p>
      ) : null}
      <div className="flex flex-wrap gap-2">
        <Button onClick={test} disabled={pending}>
          Test connection
        </Button>
        <Button type="submit" variant="primary" disabled={pending}>
          {pending ? "Working…" : target ? "Save changes" : "Save target"}
        </Button>
        {failedSave ? (
          <Button onClick={() => save(true)} disabled={pending}>
            Save anyway
          </Button>
        ) : null}
        <Button onClick={onDone}>Cancel</Button>
      </div>
    </form>
  );
}
