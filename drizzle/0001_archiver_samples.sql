CREATE TABLE "archiver_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target_id" integer NOT NULL,
	"sampled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"archived_count" bigint NOT NULL,
	"failed_count" bigint NOT NULL,
	"last_archived_wal" text,
	"last_archived_at" timestamp with time zone,
	"last_failed_wal" text,
	"last_failed_at" timestamp with time zone,
	"ready_count" integer,
	"rpo_exposure_seconds" integer,
	"healthy" boolean NOT NULL,
	"alert" text
);
--> statement-breakpoint
ALTER TABLE "archiver_samples" ADD CONSTRAINT "archiver_samples_target_id_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "public"."targets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "archiver_samples_target_time_idx" ON "archiver_samples" USING btree ("target_id","sampled_at");