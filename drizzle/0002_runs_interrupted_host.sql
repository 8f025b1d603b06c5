ALTER TYPE "public"."run_status" ADD VALUE 'interrupted';--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "host" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "pid" integer;--> statement-breakpoint
ALTER TABLE "targets" ADD COLUMN "config_dir" text;