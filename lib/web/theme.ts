import "server-only";
import { cookies } from "next/headers";
import type { Theme } from "@/components/layout/theme-toggle-client";

export async function currentTheme(): Promise<Theme> {
  const value = (await cookies()).get("lifeboat-theme")?.value;
  return value === "light" || value === "dark" ? value : "system";
}
