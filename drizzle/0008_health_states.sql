CREATE TABLE "health_states" (
	"id" serial PRIMARY KEY NOT NULL,
	"target_id" integer NOT NULL,
	"check_id" text NOT NULL,
	"state" text NOT NULL,
	"title" text NOT NULL,
	"message" text NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"checked_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "health_states" ADD CONSTRAINT "health_states_target_id_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "public"."targets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "health_states_target_check_idx" ON "health_states" USING btree ("target_id","check_id");