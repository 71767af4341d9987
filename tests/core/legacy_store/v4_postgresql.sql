-- The operational store as ACTP's hand-rolled migrations 1-4 created it on postgresql, frozen for
-- the Alembic upgrade tests. Generated once from actp_pipeline/store/schema.py at commit 9398407; do not edit.
-- Sections run in order; a store at version N ran the sections up to N (so the claim indexes come with
-- version 3, as they did for stores made before it).

-- version 0: the version table
CREATE TABLE schema_version (
	version SERIAL NOT NULL, 
	applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	description VARCHAR(200) NOT NULL, 
	PRIMARY KEY (version)
);

-- version 1: queues, posts ledger, approvals, worker heartbeats
CREATE TABLE render_jobs (
	id SERIAL NOT NULL, 
	variant_id VARCHAR(64) NOT NULL, 
	payload JSON NOT NULL, 
	output_path TEXT, 
	checksum VARCHAR(64), 
	probe JSON, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER DEFAULT '0' NOT NULL, 
	max_attempts INTEGER DEFAULT '3' NOT NULL, 
	available_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	claim_token VARCHAR(64), 
	claimed_by VARCHAR(128), 
	lease_expires_at TIMESTAMP WITHOUT TIME ZONE, 
	last_error TEXT, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (variant_id)
);
CREATE INDEX ix_render_jobs_status ON render_jobs (status);
CREATE TABLE publish_queue (
	id SERIAL NOT NULL, 
	variant_id VARCHAR(64) NOT NULL, 
	platform VARCHAR(32) NOT NULL, 
	account VARCHAR(128) NOT NULL, 
	idempotency_key VARCHAR(200) NOT NULL, 
	scheduled_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	payload JSON NOT NULL, 
	external_id VARCHAR(200), 
	post_url TEXT, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER DEFAULT '0' NOT NULL, 
	max_attempts INTEGER DEFAULT '3' NOT NULL, 
	available_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	claim_token VARCHAR(64), 
	claimed_by VARCHAR(128), 
	lease_expires_at TIMESTAMP WITHOUT TIME ZONE, 
	last_error TEXT, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key)
);
CREATE INDEX ix_publish_queue_status ON publish_queue (status);
CREATE INDEX ix_publish_queue_variant_id ON publish_queue (variant_id);
CREATE TABLE posts (
	id SERIAL NOT NULL, 
	idempotency_key VARCHAR(200) NOT NULL, 
	variant_id VARCHAR(64) NOT NULL, 
	platform VARCHAR(32) NOT NULL, 
	account VARCHAR(128) NOT NULL, 
	external_id VARCHAR(200) NOT NULL, 
	url TEXT, 
	live_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	posted_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	publish_item_id INTEGER, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key)
);
CREATE INDEX ix_posts_variant_id ON posts (variant_id);
CREATE TABLE approvals (
	variant_id VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	reason TEXT NOT NULL, 
	decided_by VARCHAR(128) NOT NULL, 
	decided_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (variant_id)
);
CREATE TABLE worker_heartbeats (
	worker_id VARCHAR(128) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	last_heartbeat TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	jobs_completed INTEGER DEFAULT '0' NOT NULL, 
	jobs_running INTEGER DEFAULT '0' NOT NULL, 
	system_info JSON, 
	PRIMARY KEY (worker_id)
);
INSERT INTO schema_version (version, applied_at, description) VALUES (1, '2025-01-01 12:00:00', 'queues, posts ledger, approvals, worker heartbeats');

-- version 2: shared rate limits (rate_keys, rate_events) and circuit breakers
CREATE TABLE rate_keys (
	platform VARCHAR(32) NOT NULL, 
	account VARCHAR(128) NOT NULL, 
	blocked_until DOUBLE PRECISION, 
	block_reason TEXT, 
	updated_at DOUBLE PRECISION NOT NULL, 
	PRIMARY KEY (platform, account)
);
CREATE TABLE rate_events (
	id SERIAL NOT NULL, 
	platform VARCHAR(32) NOT NULL, 
	account VARCHAR(128) NOT NULL, 
	at DOUBLE PRECISION NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_rate_events_key_at ON rate_events (platform, account, at);
CREATE INDEX ix_rate_events_platform_at ON rate_events (platform, at);
CREATE TABLE circuit_breakers (
	platform VARCHAR(32) NOT NULL, 
	account VARCHAR(128) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	failures INTEGER DEFAULT '0' NOT NULL, 
	successes INTEGER DEFAULT '0' NOT NULL, 
	open_s DOUBLE PRECISION, 
	opened_at DOUBLE PRECISION, 
	open_until DOUBLE PRECISION, 
	trial_token VARCHAR(64), 
	trial_started_at DOUBLE PRECISION, 
	last_error TEXT, 
	version INTEGER DEFAULT '0' NOT NULL, 
	updated_at DOUBLE PRECISION NOT NULL, 
	PRIMARY KEY (platform, account)
);
INSERT INTO schema_version (version, applied_at, description) VALUES (2, '2025-01-02 12:00:00', 'shared rate limits (rate_keys, rate_events) and circuit breakers');

-- version 3: claim index on each queue (status, available_at, id)
CREATE INDEX ix_render_jobs_claim ON render_jobs (status, available_at, id);
CREATE INDEX ix_publish_queue_claim ON publish_queue (status, available_at, id);
INSERT INTO schema_version (version, applied_at, description) VALUES (3, '2025-01-03 12:00:00', 'claim index on each queue (status, available_at, id)');

-- version 4: ads orchestrator: accounts, goals, plan approvals and the audit log (runs, actions)
CREATE TABLE ad_accounts (
	account_id VARCHAR(128) NOT NULL, 
	name VARCHAR(200), 
	auto_execute BOOLEAN DEFAULT false NOT NULL, 
	global_daily_budget DOUBLE PRECISION, 
	max_daily_budget DOUBLE PRECISION, 
	auto_scale_winners BOOLEAN, 
	auto_pause_losers BOOLEAN, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (account_id)
);
CREATE TABLE ad_goals (
	account_id VARCHAR(128) NOT NULL, 
	goal VARCHAR(64) NOT NULL, 
	priority INTEGER NOT NULL, 
	core_signal VARCHAR(128), 
	budget_cap DOUBLE PRECISION, 
	active BOOLEAN DEFAULT true NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (account_id, goal)
);
CREATE TABLE ads_automation_runs (
	run_id VARCHAR(64) NOT NULL, 
	plan_id VARCHAR(64) NOT NULL, 
	mode VARCHAR(16) NOT NULL, 
	trigger VARCHAR(32) NOT NULL, 
	dagster_run_id VARCHAR(64), 
	as_of TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITHOUT TIME ZONE, 
	status VARCHAR(16) NOT NULL, 
	accounts JSON NOT NULL, 
	summary JSON, 
	errors_count INTEGER DEFAULT '0' NOT NULL, 
	config JSON, 
	PRIMARY KEY (run_id)
);
CREATE INDEX ix_ads_automation_runs_plan_id ON ads_automation_runs (plan_id);
CREATE TABLE ads_automation_actions (
	id SERIAL NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	plan_id VARCHAR(64) NOT NULL, 
	seq INTEGER NOT NULL, 
	action_key VARCHAR(96), 
	account_id VARCHAR(128) NOT NULL, 
	goal VARCHAR(64), 
	action VARCHAR(32) NOT NULL, 
	rule VARCHAR(32), 
	target_id VARCHAR(200), 
	variant_id VARCHAR(64), 
	status VARCHAR(16) NOT NULL, 
	blocked_by VARCHAR(64), 
	reason TEXT, 
	note TEXT, 
	params JSON, 
	metrics JSON, 
	result_id VARCHAR(200), 
	error TEXT, 
	at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (action_key)
);
CREATE INDEX ix_ads_automation_actions_account_at ON ads_automation_actions (account_id, at);
CREATE INDEX ix_ads_automation_actions_run_id ON ads_automation_actions (run_id);
CREATE TABLE ad_plan_approvals (
	plan_id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(128) NOT NULL, 
	approved_by VARCHAR(128) NOT NULL, 
	approved_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (plan_id, account_id)
);
INSERT INTO schema_version (version, applied_at, description) VALUES (4, '2025-01-04 12:00:00', 'ads orchestrator: accounts, goals, plan approvals and the audit log (runs, actions)');
