import { PageSkeleton } from "@/components/ui/skeleton";

// Reading the window runs pg_waldump over the archive: the page shows its shape meanwhile.
export default function Loading() {
  return <PageSkeleton blocks={3} />;
}
