import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { currentTheme } from "@/lib/web/theme";
import { Providers } from "./providers";
import "./globals.css";

export const metadata: Metadata = {
  title: "Lifeboat",
  description: "PostgreSQL backups you can trust, and the restore to match.",
  icons: { icon: "/favicon.svg" },
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default async function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" className={await currentTheme()}>
      <body className="min-h-screen font-sans">
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}
