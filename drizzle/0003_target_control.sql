ALTER TABLE "targets" ADD COLUMN "control" jsonb;--> statement-breakpoint
ALTER TABLE "targets" ADD COLUMN "os_user" text;