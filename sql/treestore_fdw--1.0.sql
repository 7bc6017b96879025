/* treestore_fdw--1.0.sql: schema treestore, the foreign data wrapper, its
 * server, the contract's foreign tables and functions. */

\echo Use "CREATE EXTENSION treestore_fdw" to load this file. \quit

CREATE SCHEMA treestore;
GRANT USAGE ON SCHEMA treestore TO PUBLIC;

-- Refuse to install without the preload: the worker would never exist.
CREATE FUNCTION treestore.require_preload() RETURNS void
	AS 'MODULE_PATHNAME', 'treestore_require_preload' LANGUAGE C STRICT;
SELECT treestore.require_preload();
DROP FUNCTION treestore.require_preload();
-- and in a database whose encoding is not UTF8: one engine serves every
-- database of the cluster, its text is UTF-8
CREATE FUNCTION treestore.require_utf8() RETURNS void
	AS 'MODULE_PATHNAME', 'treestore_require_utf8' LANGUAGE C STRICT;
SELECT treestore.require_utf8();
DROP FUNCTION treestore.require_utf8();

CREATE FUNCTION treestore.fdw_handler() RETURNS fdw_handler
	AS 'MODULE_PATHNAME', 'treestore_fdw_handler' LANGUAGE C STRICT;
CREATE FUNCTION treestore.fdw_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'treestore_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER treestore_fdw
	HANDLER treestore.fdw_handler VALIDATOR treestore.fdw_validator;
CREATE SERVER treestore FOREIGN DATA WRAPPER treestore_fdw;

-- Keys come first in each table; treestore enforces them (23505, 23502).
CREATE FOREIGN TABLE treestore.documents (
	policy_id text NOT NULL,
	title text,
	latest_version_id text,
	version_count integer,
	created_at timestamptz DEFAULT now(),
	updated_at timestamptz DEFAULT now(),
	metadata jsonb DEFAULT '{}'
) SERVER treestore OPTIONS (table 'documents');

CREATE FOREIGN TABLE treestore.versions (
	policy_id text NOT NULL,
	version_id text NOT NULL,
	effective_from date,
	effective_to date,
	doc_name text,
	doc_description text,
	pageindex_doc_id text,
	pdf_sha256 text,
	source_url text,
	node_count integer,
	created_at timestamptz DEFAULT now(),
	metadata jsonb DEFAULT '{}'
) SERVER treestore OPTIONS (table 'versions');

CREATE FOREIGN TABLE treestore.nodes (
	policy_id text NOT NULL,
	version_id text NOT NULL,
	node_id text NOT NULL,
	parent_id text,
	ordinal integer,
	depth integer,
	section_path text,
	title text,
	page_start integer,
	page_end integer,
	line_num integer,
	summary text,
	text text,
	content_hash text,
	metadata jsonb DEFAULT '{}'
) SERVER treestore OPTIONS (table 'nodes');

CREATE FOREIGN TABLE treestore.cross_references (
	source_policy_id text NOT NULL,
	source_node_id text NOT NULL,
	target_policy_id text NOT NULL,
	target_node_id text NOT NULL,
	reference_type text NOT NULL,
	context text,
	confidence real,
	created_at timestamptz DEFAULT now()
) SERVER treestore OPTIONS (table 'cross_references');

-- result_id: NULL (the default) is assigned by treestore.
CREATE FOREIGN TABLE treestore.tool_results (
	result_id bigint,
	case_id text,
	criterion_id text,
	tool_name text,
	policy_id text,
	version_id text,
	node_id text,
	input jsonb,
	output jsonb,
	success boolean,
	error_message text,
	latency_ms double precision,
	created_at timestamptz DEFAULT now()
) SERVER treestore OPTIONS (table 'tool_results');

CREATE FOREIGN TABLE treestore.trajectories (
	case_id text NOT NULL,
	trajectory_id text NOT NULL,
	step_number integer NOT NULL,
	tool_name text,
	action text,
	thought text,
	observation text,
	created_at timestamptz DEFAULT now()
) SERVER treestore OPTIONS (table 'trajectories');

CREATE FOREIGN TABLE treestore.prompts (
	prompt_id text NOT NULL,
	version integer NOT NULL,
	name text,
	template text,
	variables text[],
	tool_schemas jsonb,
	created_at timestamptz DEFAULT now(),
	deployed_at timestamptz,
	retired_at timestamptz
) SERVER treestore OPTIONS (table 'prompts');

-- usage_id: NULL (the default) is assigned by treestore.
CREATE FOREIGN TABLE treestore.prompt_usage (
	usage_id bigint,
	prompt_id text,
	version integer,
	case_id text,
	filled_variables jsonb,
	response text,
	used_at timestamptz DEFAULT now()
) SERVER treestore OPTIONS (table 'prompt_usage');

-- Engine-wide functions.  Like the tables, usable by their owner until
-- granted: nothing here is SECURITY DEFINER.
CREATE FUNCTION treestore.health() RETURNS jsonb
	AS 'MODULE_PATHNAME', 'treestore_health' LANGUAGE C VOLATILE;
CREATE FUNCTION treestore.checkpoint() RETURNS void
	AS 'MODULE_PATHNAME', 'treestore_checkpoint' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION treestore.health() FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.checkpoint() FROM PUBLIC;

-- In-doubt transactions (prepared in the engine, no session will resolve
-- them, the commit log cannot decide them): superuser only.
CREATE FUNCTION treestore.prepared_transactions(
	OUT gid text, OUT xid xid8, OUT status text, OUT origin text, OUT reason text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'treestore_prepared_transactions' LANGUAGE C VOLATILE;
CREATE FUNCTION treestore.resolve_prepared(gid text, commit boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'treestore_resolve_prepared' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION treestore.prepared_transactions() FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.resolve_prepared(text, boolean) FROM PUBLIC;

-- Observability (src/metrics.c): one snapshot of the worker each; none
-- raises for a worker that is down (stats() says why in "status",
-- metrics() reports treestore_up 0).  metrics_text() is the Prometheus text
-- exposition format of exactly the rows of metrics().
CREATE FUNCTION treestore.stats() RETURNS jsonb
	AS 'MODULE_PATHNAME', 'treestore_stats' LANGUAGE C VOLATILE;
CREATE FUNCTION treestore.metrics()
	RETURNS TABLE(name text, type text, labels jsonb, value double precision)
	AS 'MODULE_PATHNAME', 'treestore_metrics' LANGUAGE C VOLATILE ROWS 40;
CREATE FUNCTION treestore.metrics_text() RETURNS text
	AS 'MODULE_PATHNAME', 'treestore_metrics_text' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION treestore.stats() FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.metrics() FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.metrics_text() FROM PUBLIC;

-- PageIndex documents (CONTRACT.md section 4).  Each runs in the caller's
-- transaction: one call is all of its writes or none.  Like the tables,
-- usable by their owner until granted; nothing here is SECURITY DEFINER.
CREATE FUNCTION treestore.store_document(policy_id text, version_id text, tree jsonb,
		effective_from date DEFAULT NULL, metadata jsonb DEFAULT '{}',
		replace boolean DEFAULT false) RETURNS integer
	AS 'MODULE_PATHNAME', 'treestore_store_document' LANGUAGE C VOLATILE;
CREATE FUNCTION treestore.get_document(policy_id text, version_id text DEFAULT NULL,
		as_of date DEFAULT NULL, include_text boolean DEFAULT false) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'treestore_get_document' LANGUAGE C STABLE;
CREATE FUNCTION treestore.delete_document(policy_id text, version_id text DEFAULT NULL)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'treestore_delete_document' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION treestore.store_document(text, text, jsonb, date, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.get_document(text, text, date, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.delete_document(text, text) FROM PUBLIC;

-- Queries over stored documents (CONTRACT.md section 4; src/queries.c).
-- The version is resolved by the temporal rule; an unknown policy, version
-- or node gives no rows.  Like the others, usable by their owner until
-- granted; nothing here is SECURITY DEFINER.
CREATE FUNCTION treestore.get_node(policy_id text, node_id text,
		version_id text DEFAULT NULL, as_of date DEFAULT NULL)
	RETURNS SETOF treestore.nodes
	AS 'MODULE_PATHNAME', 'treestore_get_node' LANGUAGE C STABLE;
CREATE FUNCTION treestore.get_children(policy_id text, node_id text,
		version_id text DEFAULT NULL, as_of date DEFAULT NULL)
	RETURNS SETOF treestore.nodes
	AS 'MODULE_PATHNAME', 'treestore_get_children' LANGUAGE C STABLE;
CREATE FUNCTION treestore.get_subtree(policy_id text, node_id text DEFAULT NULL,
		max_depth integer DEFAULT NULL, version_id text DEFAULT NULL, as_of date DEFAULT NULL)
	RETURNS SETOF treestore.nodes
	AS 'MODULE_PATHNAME', 'treestore_get_subtree' LANGUAGE C STABLE;
CREATE FUNCTION treestore.get_ancestors(policy_id text, node_id text,
		version_id text DEFAULT NULL, as_of date DEFAULT NULL)
	RETURNS SETOF treestore.nodes
	AS 'MODULE_PATHNAME', 'treestore_get_ancestors' LANGUAGE C STABLE;
CREATE FUNCTION treestore.nodes_by_page(policy_id text, page integer,
		version_id text DEFAULT NULL, as_of date DEFAULT NULL)
	RETURNS SETOF treestore.nodes
	AS 'MODULE_PATHNAME', 'treestore_nodes_by_page' LANGUAGE C STABLE;
CREATE FUNCTION treestore.version_as_of(policy_id text, as_of date)
	RETURNS SETOF treestore.versions
	AS 'MODULE_PATHNAME', 'treestore_version_as_of' LANGUAGE C STABLE STRICT ROWS 1;
CREATE FUNCTION treestore.list_versions(policy_id text)
	RETURNS SETOF treestore.versions
	AS 'MODULE_PATHNAME', 'treestore_list_versions' LANGUAGE C STABLE STRICT;
CREATE FUNCTION treestore.get_cross_references(policy_id text, node_id text DEFAULT NULL,
		direction text DEFAULT 'outgoing')
	RETURNS SETOF treestore.cross_references
	AS 'MODULE_PATHNAME', 'treestore_get_cross_references' LANGUAGE C STABLE;
CREATE FUNCTION treestore.store_tool_result(case_id text, tool_name text, output jsonb,
		input jsonb DEFAULT NULL, criterion_id text DEFAULT NULL, policy_id text DEFAULT NULL,
		version_id text DEFAULT NULL, node_id text DEFAULT NULL, success boolean DEFAULT true,
		error_message text DEFAULT NULL, latency_ms double precision DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'treestore_store_tool_result' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION treestore.get_node(text, text, text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.get_children(text, text, text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.get_subtree(text, text, integer, text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.get_ancestors(text, text, text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.nodes_by_page(text, integer, text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.version_as_of(text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.list_versions(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.get_cross_references(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION treestore.store_tool_result(text, text, jsonb, jsonb, text, text, text,
		text, boolean, text, double precision) FROM PUBLIC;

-- Full-text search (src/search.c): nodes holding any of the query's
-- lexemes (PostgreSQL's english configuration), ranked by BM25, best first.
CREATE FUNCTION treestore.search(query text, policy_id text DEFAULT NULL,
		version_id text DEFAULT NULL, as_of date DEFAULT NULL, top_k integer DEFAULT 10)
	RETURNS TABLE(policy_id text, version_id text, node_id text, title text,
		section_path text, score double precision, snippet text)
	AS 'MODULE_PATHNAME', 'treestore_search' LANGUAGE C STABLE ROWS 10;
REVOKE ALL ON FUNCTION treestore.search(text, text, text, date, integer) FROM PUBLIC;
