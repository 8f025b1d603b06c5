ALTER TABLE "archiver_samples" ADD COLUMN "last_archived_commit_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "archiver_samples" ADD COLUMN "unarchived_bytes" bigint;