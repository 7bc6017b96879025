/*-------------------------------------------------------------------------
 *
 * documents.h
 *	  PageIndex documents in the engine (documents.c): store_document,
 *	  get_document, delete_document, and the temporal rule that resolves
 *	  which version of a policy a call means.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_DOCUMENTS_H
#define TS_DOCUMENTS_H

#include "utils/date.h"

#include "rows.h"

/* Column numbers of the stores documents.c uses (checked against stores.c). */
enum
{
	TS_DOC_POLICY_ID = 0, TS_DOC_TITLE, TS_DOC_LATEST_VERSION_ID, TS_DOC_VERSION_COUNT,
	TS_DOC_CREATED_AT, TS_DOC_UPDATED_AT, TS_DOC_METADATA, TS_DOC_NCOLS
};
enum
{
	TS_VER_POLICY_ID = 0, TS_VER_VERSION_ID, TS_VER_EFFECTIVE_FROM, TS_VER_EFFECTIVE_TO,
	TS_VER_DOC_NAME, TS_VER_DOC_DESCRIPTION, TS_VER_PAGEINDEX_DOC_ID, TS_VER_PDF_SHA256,
	TS_VER_SOURCE_URL, TS_VER_NODE_COUNT, TS_VER_CREATED_AT, TS_VER_METADATA, TS_VER_NCOLS
};
enum
{
	TS_NODE_POLICY_ID = 0, TS_NODE_VERSION_ID, TS_NODE_NODE_ID, TS_NODE_PARENT_ID,
	TS_NODE_ORDINAL, TS_NODE_DEPTH, TS_NODE_SECTION_PATH, TS_NODE_TITLE, TS_NODE_PAGE_START,
	TS_NODE_PAGE_END, TS_NODE_LINE_NUM, TS_NODE_SUMMARY, TS_NODE_TEXT, TS_NODE_CONTENT_HASH,
	TS_NODE_METADATA, TS_NODE_NCOLS
};

/* The stores, checked once per backend against the column numbers above. */
extern const ts_store *ts_documents_store(void);
extern const ts_store *ts_versions_store(void);
extern const ts_store *ts_nodes_store(void);

/*
 * The temporal rule (CONTRACT.md section 3): which version of policy_id a
 * call means.  version_id (not NULL): that version, if it exists.  Else, if
 * as_of is given (has_as_of): the version in force at as_of, if any.  Else
 * the version in force today (CURRENT_DATE), or if none is, the one with
 * the latest effective_from.
 *
 * In force: the version with the greatest effective_from <= the date (ties:
 * the greatest version_id) is in force unless its effective_to is set and
 * <= the date.  A version without effective_from is never in force and
 * ranks below every dated version as "latest" (among undated versions:
 * the greatest version_id).
 *
 * Returns false when no version qualifies; else true with *row the
 * versions row (copied into the current memory context).
 */
extern bool ts_resolve_version(const char *policy_id, const char *version_id,
							   bool has_as_of, DateADT as_of, TsRow *row);

/* The same rule over versions rows already read (rows of one policy). */
extern int	ts_version_in_force(const TsRow *versions, int n, DateADT date);
extern int	ts_version_latest(const TsRow *versions, int n);

#endif							/* TS_DOCUMENTS_H */
