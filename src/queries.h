/*-------------------------------------------------------------------------
 *
 * queries.h
 *	  Read functions over stored documents (queries.c): get_node,
 *	  get_children, get_subtree, get_ancestors, nodes_by_page,
 *	  version_as_of, list_versions, get_cross_references; and
 *	  store_tool_result.  All are SQL-callable only (fmgr entry points);
 *	  nothing else in the module calls them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TS_QUERIES_H
#define TS_QUERIES_H

#include "fmgr.h"

extern Datum treestore_get_node(PG_FUNCTION_ARGS);
extern Datum treestore_get_children(PG_FUNCTION_ARGS);
extern Datum treestore_get_subtree(PG_FUNCTION_ARGS);
extern Datum treestore_get_ancestors(PG_FUNCTION_ARGS);
extern Datum treestore_nodes_by_page(PG_FUNCTION_ARGS);
extern Datum treestore_version_as_of(PG_FUNCTION_ARGS);
extern Datum treestore_list_versions(PG_FUNCTION_ARGS);
extern Datum treestore_get_cross_references(PG_FUNCTION_ARGS);
extern Datum treestore_store_tool_result(PG_FUNCTION_ARGS);

#endif							/* TS_QUERIES_H */
